import { Component, useState } from "@odoo/owl";
import { deserializeDateTime, formatDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";

/** One ringing call: who calls, what happened with them lately, a note for the call. */
export class ScreenPopCard extends Component {
    static template = "omnichannel_voip.ScreenPopCard";
    static props = {
        pop: Object,
        close: Function,
        runCallAction: Function,
        openConversation: Function,
        saveNote: Function,
    };

    setup() {
        // The call's note so far (written on its form, or by another agent its phone also rang for):
        // the agent adds to it rather than wiping it.
        const note = this.props.pop.note || "";
        this.state = useState({ note, savedNote: note, saving: false, busy: false, error: "" });
    }

    get pop() {
        return this.props.pop;
    }

    /** The contact is shown when the number belonged to one before the call. */
    get isKnown() {
        return Boolean(this.pop.known && this.pop.partner);
    }

    get title() {
        if (this.pop.withheld) {
            return _t("Withheld number");
        }
        if (this.isKnown) {
            return this.pop.partner.name;
        }
        return _t("Unknown number");
    }

    get canCreateContact() {
        return !this.isKnown && !this.pop.withheld && Boolean(this.pop.partner);
    }

    get directionLabel() {
        return this.pop.direction === "outbound" ? _t("Outgoing call") : _t("Incoming call");
    }

    get interactions() {
        return this.pop.interactions.map((item) => ({ ...item, when: formatDate(item.date) }));
    }

    get noteChanged() {
        return this.state.note.trim() !== this.state.savedNote;
    }

    async run(method) {
        if (this.state.busy) {
            return;
        }
        this.state.busy = true;
        try {
            await this.props.runCallAction(this.pop, method);
        } finally {
            this.state.busy = false;
        }
    }

    onOpenContact() {
        return this.run("action_open_contact");
    }

    onCreateContact() {
        return this.run("action_create_contact");
    }

    onOpenConversation(conversation) {
        return this.props.openConversation(conversation.id);
    }

    onNoteInput(ev) {
        this.state.note = ev.target.value;
    }

    async onSaveNote() {
        const note = this.state.note.trim();
        if (this.state.saving || !this.noteChanged) {
            return;
        }
        this.state.saving = true;
        this.state.error = "";
        try {
            await this.props.saveNote(this.pop, note);
            this.state.savedNote = note;
        } catch (error) {
            this.state.error = _t("The note could not be saved.");
            console.warn("omnichannel_voip: note not saved", error);
        } finally {
            this.state.saving = false;
        }
    }

    onNoteKeydown(ev) {
        if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
            ev.preventDefault();
            this.onSaveNote();
        }
    }

    onClose() {
        this.props.close(this.pop.call_id);
    }
}

/** The cards of the calls ringing for the agent, top right, under the navbar; not modal. */
export class ScreenPopContainer extends Component {
    static template = "omnichannel_voip.ScreenPopContainer";
    static components = { ScreenPopCard };
    static props = {
        state: Object,
        close: Function,
        runCallAction: Function,
        openConversation: Function,
        saveNote: Function,
    };
}

function formatDate(value) {
    if (!value) {
        return "";
    }
    try {
        return formatDateTime(deserializeDateTime(value), { showSeconds: false });
    } catch {
        return value;
    }
}
