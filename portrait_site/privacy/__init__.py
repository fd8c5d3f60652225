"""A person's data over every app: deleting everything, the export, and the My data page's reads.
Above the apps it reads and deletes from; the receipts it writes are accounts.receipts (a leaf)."""
