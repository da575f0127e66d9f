"""Pure-Python helpers of the messaging apps (provider clients, payload parsers); no ORM.

Modules are imported where they are used, so loading the addon does not load them.
"""
