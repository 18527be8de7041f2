"""Tasks wired in: closing what reaching the client does, reminders at due time, response clocks."""
