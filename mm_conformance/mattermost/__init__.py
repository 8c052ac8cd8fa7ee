"""The Mattermost side: its admin API, the System Console, server settings, which server to run on. No Docker."""
