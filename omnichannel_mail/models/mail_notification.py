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
        customer's. The mail queue marks a mail failed before trying it, then sent.

        Mail of other documents (every invoice, every order) costs no query: only
        conversation mail has timeline rows to update."""
        notifications = self.filtered(
            lambda n: n.notification_type == "email" and n.mail_message_id.model == "omnichannel.conversation"
        )
        updates = []
        for notification in notifications:
            reason = None
            if status != "sent":
                reason = (
                    self.env.context.get("omnichannel_bounce_reason")
                    or notification.failure_reason
                    or notification.failure_type
                    or ""
                ).strip()[:250] or None
            updates.append((notification.mail_message_id.id, notification.res_partner_id.id, reason))
        self.env["omnichannel.interaction"]._set_delivery_state("sent" if status == "sent" else "failed", updates)
