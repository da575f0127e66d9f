from odoo import _, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    def action_omni_dial(self):
        """Click-to-dial: the agent's phone rings, then the contact's."""
        self.ensure_one()
        return self.env["omnichannel.call"]._dial(self)

    def _omni_timeline_actions(self, interactions):
        actions = super()._omni_timeline_actions(interactions)
        # A withheld or undiallable caller cannot be called back. (The id from the registry's cache:
        # env.ref would query on every timeline page.)
        unknown_id = self.env["ir.model.data"]._xmlid_to_res_id("omnichannel_voip.partner_withheld")
        calls = interactions.filtered(
            lambda i: i.res_model == "omnichannel.call" and i.res_id and i.partner_id.id != unknown_id
        )
        recorded = (
            self.env["omnichannel.call"].sudo().browse(calls.mapped("res_id")).filtered("recording_attachment_id")
        )
        for interaction in calls:
            actions.setdefault(interaction.id, []).append(
                {
                    "name": _("Call back"),
                    "icon": "fa-phone",
                    "model": "omnichannel.call",
                    "method": "action_omni_dial",
                    "res_id": interaction.res_id,
                }
            )
            if interaction.res_id in recorded.ids:
                actions[interaction.id].append(
                    {
                        "name": _("Recording"),
                        "icon": "fa-play-circle",
                        "model": "omnichannel.call",
                        "method": "action_open_recording",
                        "res_id": interaction.res_id,
                    }
                )
        return actions


class OmnichannelConversation(models.Model):
    _inherit = "omnichannel.conversation"

    def action_omni_dial(self):
        """Call the customer of this conversation; the call joins it when it is a phone conversation."""
        self.ensure_one()
        return self.env["omnichannel.call"]._dial(
            self.partner_id, channel=self.channel_id if self.channel_type == "voice" else None, conversation=self
        )
