"""The built-in agents, one module each, with their system prompts in prompts/.

Drop another module in this folder and it is loaded as a plugin, exactly as these are.
"""
