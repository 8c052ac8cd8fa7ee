"""What a scenario calls: its world (users, tokens, credentials, observations) and the verdicts on what it saw."""
