"""Who is asking: owners, API keys, share links and the rules of what each may see."""
