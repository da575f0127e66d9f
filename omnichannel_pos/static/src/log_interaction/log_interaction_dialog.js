import { Component, useState } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { usePos } from "@point_of_sale/app/store/pos_hook";
import { uuidv4 } from "@point_of_sale/utils";
import { serializeDateTime } from "@web/core/l10n/dates";
import { readableError } from "@omnichannel_pos/utils";

const { DateTime } = luxon;

/**
 * The cashier logs what happened in the store (a visit, a request, a complaint) on the
 * customer's timeline, and may open a conversation for a team ("order the size 38 and call back").
 *
 * Offline, the POS keeps it and sends it once back online (PosStore.omniLogStoreInteraction); the
 * uuid made when the dialog opens lets the server record a resent or retried call once.
 */
export class LogInteractionDialog extends Component {
    static template = "omnichannel_pos.LogInteractionDialog";
    static components = { Dialog };
    static props = {
        partner: Object,
        teams: { type: Array, optional: true },
        onLogged: { type: Function, optional: true },
        close: Function,
    };
    static defaultProps = {
        teams: [],
    };

    setup() {
        this.pos = usePos();
        this.notification = useService("notification");
        this.uuid = uuidv4();
        this.state = useState({ kind: "visit", note: "", teamId: "", saving: false, error: "" });
    }

    get kinds() {
        return [
            { value: "visit", label: _t("Visit"), icon: "fa-street-view" },
            { value: "request", label: _t("Request"), icon: "fa-hand-paper-o" },
            { value: "complaint", label: _t("Complaint"), icon: "fa-exclamation-triangle" },
        ];
    }

    get isOffline() {
        return this.pos.data.network.offline;
    }

    /** Opening a conversation needs the server's answer (its teams): not offered offline. */
    get showTeams() {
        return !this.isOffline && this.props.teams.length > 0;
    }

    get teamOptions() {
        return this.props.teams.map(([id, name]) => ({ value: String(id), name }));
    }

    get teamName() {
        return this.teamOptions.find((team) => team.value === this.state.teamId)?.name || "";
    }

    /** A plain visit may go without a note; a request, a complaint or a follow-up needs one. */
    get noteRequired() {
        return this.state.kind !== "visit" || Boolean(this.showTeams && this.state.teamId);
    }

    get canSave() {
        return !this.state.saving && (!this.noteRequired || Boolean(this.state.note.trim()));
    }

    onKindChange(kind) {
        this.state.kind = kind;
    }

    onNoteInput(ev) {
        this.state.note = ev.target.value;
        this.state.error = "";
    }

    onTeamChange(ev) {
        this.state.teamId = ev.target.value;
    }

    notifyQueued() {
        this.notification.add(
            _t("Offline: the store interaction will be sent once the POS is back online."),
            { type: "warning" }
        );
    }

    async onSave() {
        if (!this.canSave) {
            if (!this.state.saving) {
                this.state.error = _t("Write down what the customer asked or complained about.");
            }
            return;
        }
        const teamId = this.showTeams ? parseInt(this.state.teamId) || false : false;
        const values = {
            kind: this.state.kind,
            note: this.state.note.trim(),
            team_id: teamId,
            uuid: this.uuid,
            // When it happened, should it wait offline before it is sent (UTC).
            date: serializeDateTime(DateTime.now()),
        };
        this.state.saving = true;
        this.state.error = "";
        try {
            // Offline, the POS keeps it and sends it once back online (it then returns false).
            const result = await this.pos.omniLogStoreInteraction(this.props.partner.id, values);
            if (!result) {
                this.notifyQueued();
            } else if (result.conversation_id) {
                this.notification.add(
                    _t("Store interaction logged; a conversation is open for %s.", this.teamName),
                    { type: "success" }
                );
            } else {
                this.notification.add(_t("Store interaction logged."), { type: "success" });
            }
            this.props.onLogged?.(result || false);
            this.props.close();
        } catch (error) {
            const fallback = _t("The store interaction could not be logged.");
            this.state.error = readableError(error, fallback);
            console.warn("omnichannel_pos: store interaction not logged", error);
        } finally {
            this.state.saving = false;
        }
    }
}
