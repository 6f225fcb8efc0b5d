"""Services the Telegram handlers and the CLI call: each owns its transactions and its crypto."""
