"""The agent runtime: the program AgentCore Runtime hosts for every agent plugin (and the local stack serves on
loopback). See `app.py` for the HTTP contract and `runner.py` for one run from request to completion event."""
