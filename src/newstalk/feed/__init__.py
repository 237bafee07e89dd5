"""The personal feed: stories ranked for one listener, each with the reason it is there."""
