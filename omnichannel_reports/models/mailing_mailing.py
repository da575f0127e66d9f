from odoo import models


class MailingMailing(models.Model):
    _inherit = "mailing.mailing"

    def _get_recipients(self):
        """The recipients in the company of the mailing's responsible when someone else computes them.

        The RFM segments (and other company-dependent fields a recipient filter may use) read the
        current company; the mailing queue's scheduled action runs as its own user, in that user's
        company. A mailing is evaluated as its responsible would see it.
        """
        mailing = self
        if self.user_id and self.env.user != self.user_id and self.user_id.company_id != self.env.company:
            mailing = self.with_company(self.user_id.company_id)
        return super(MailingMailing, mailing)._get_recipients()
