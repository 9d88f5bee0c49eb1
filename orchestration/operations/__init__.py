"""Operations: the daily build, and what a data engineer runs by hand (rollback and replay)."""
