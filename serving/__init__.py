"""The server entry point (`novamind serve`): each family's champion on one port, and the
worker processes; the served model classes live with their families and the shared kit."""
