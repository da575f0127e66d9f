from .automatic import automatic_reason, delivery_report
