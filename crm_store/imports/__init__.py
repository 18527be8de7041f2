"""Imported rows into clients, companies and leads (`apply`), and the import jobs themselves (`jobs`)."""
