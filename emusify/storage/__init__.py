"""Storage: the recording format (.emrec), writing and reading recording sessions, and the mood
journal (SQLite). Pure file formats, no devices."""
