"""KServe model classes and the server entry point (`novamind serve`)."""
