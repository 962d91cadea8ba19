// Placeholder so the module compiles until its first real file lands; delete it then.
