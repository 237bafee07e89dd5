"""What a listener tells us: interests, mutes, voice and speed, and feedback on stories."""
