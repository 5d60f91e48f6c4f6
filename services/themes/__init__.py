"""Themes (contract 7): similar feedback from any source and account shares one, kept in KV `sb_themes`."""
