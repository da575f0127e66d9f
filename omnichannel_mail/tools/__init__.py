from .inbound import automatic_reason, delivery_report, keep_undecodable_parts, message_key
