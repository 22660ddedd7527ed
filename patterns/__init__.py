"""Pattern catalogue and templates (installed as `drgen.patterns`)."""
