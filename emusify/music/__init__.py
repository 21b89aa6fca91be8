"""Music: the songs folder (tags, lengths, shuffle), playback with fades, and the mood -> folder
policy."""
