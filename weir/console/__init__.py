"""What a terminal shows: result tables, CSV and JSON (`output`), progress bars (`progress`).

Imports nothing of weir's but the schemas' value types; the commands use it.
"""
