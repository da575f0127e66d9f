from .automatic import automatic_reason
