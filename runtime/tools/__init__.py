"""The tool registry: typed tools served over MCP locally, through the AgentCore Gateway in AWS, and as schemas."""
