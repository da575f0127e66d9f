from odoo import models

FAILED = ("bounce", "exception")


class MailNotification(models.Model):
    _inherit = "mail.notification"

    def write(self, vals):
        result = super().write(vals)
        status = vals.get("notification_status")
        if status in FAILED or status == "sent":
            self._omni_track_delivery(status)
        return result

    def _omni_track_delivery(self, status):
        """Mirror on the timeline whether the customer's copy of an agent's mail left:
        sent, or failed (bounced, refused by the mail server) with the reason, for the
        agent to see. Copies to other followers (colleagues) say nothing about the
        customer's. The mail queue marks a mail failed before trying it, then sent."""
        for notification in self.filtered(lambda n: n.notification_type == "email"):
            if status == "sent":
                state, reason = "sent", None
            else:
                state = "failed"
                reason = (
                    self.env.context.get("omnichannel_bounce_reason")
                    or notification.failure_reason
                    or notification.failure_type
                    or ""
                ).strip()[:250] or None
            self.env.cr.execute(
                """UPDATE omnichannel_interaction SET delivery_state = %s, delivery_error = %s
                    WHERE message_id = %s AND direction = 'outbound' AND partner_id = %s""",
                [state, reason, notification.mail_message_id.id, notification.res_partner_id.id],
            )
        self.env["omnichannel.interaction"].invalidate_model(["delivery_state", "delivery_error"])
