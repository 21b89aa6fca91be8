"""The desk app: the player's loop and its front-ends (the terminal status line and keys, the
listener's corrections, the journal report)."""
