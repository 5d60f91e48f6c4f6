"""The PM inbox: item state (KV, compare-and-set), its in-memory read model and the operations on it."""
