"""18.0.1.2.0: conversations learn the date of the customer's last message (messaging windows)."""


def migrate(cr, version):
    cr.execute(
        """UPDATE omnichannel_conversation c SET last_inbound_date = i.last_date
             FROM (SELECT conversation_id, max(date) AS last_date FROM omnichannel_interaction
                    WHERE direction = 'inbound' AND conversation_id IS NOT NULL GROUP BY conversation_id) i
            WHERE i.conversation_id = c.id AND c.last_inbound_date IS NULL"""
    )
