from collections import defaultdict

from odoo import models

from odoo.addons.omnichannel_base.models.omnichannel_interaction import DIALOGUE_KINDS


class OmnichannelIngest(models.AbstractModel):
    _inherit = "omnichannel.ingest"

    def _route_conversations(self, events):
        """Count each agent reply with the conversation it joined: an outbound message whose
        sender is an agent. Bots (live chat's chatbot), API clients and automatic answers give no
        user, or OdooBot's; events registered later by their caller (a call) are not counted here."""
        super(OmnichannelIngest, self.with_context(omnichannel_reports_counted=True))._route_conversations(events)
        if self.env.context.get("omnichannel_unregistered"):
            return
        Conversation = self.env["omnichannel.conversation"].sudo()
        outbound = [
            e
            for e in events
            if e["direction"] == "outbound" and e["kind"] in DIALOGUE_KINDS and e["conversation"] and e["user_id"]
        ]
        users = self.env["res.users"].sudo().browse({e["user_id"] for e in outbound}).exists()
        agents = {user.id for user in users if Conversation._omni_is_agent(user)}
        replies = defaultdict(list)
        for event in outbound:
            if event["user_id"] in agents:
                replies[event["conversation"]].append(event["date"])
        for conversation, dates in replies.items():
            conversation._omni_record_agent_replies(dates)
