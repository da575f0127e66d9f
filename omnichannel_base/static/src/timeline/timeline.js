import { Component, onWillDestroy, onWillStart, status, useEffect, useRef, useState } from "@odoo/owl";
import { deserializeDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { useDebounced } from "@web/core/utils/timing";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

const PAGE_SIZE = 40;
const SEARCH_DELAY = 400;
/** Distance from the end of the list (px) under which the next page is fetched. */
const SCROLL_THRESHOLD = 150;
const BUS_NOTIFICATION = "omnichannel.timeline/updated";

/**
 * Unified customer timeline: every touchpoint of a contact (or of a company and
 * its contacts) on every channel, newest first, grouped by local day.
 *
 * Pages are fetched by keyset through ``res.partner.omnichannel_timeline``; at most
 * one request is in flight: a reload asked for meanwhile runs when it returns, and
 * the results of a page superseded by a reload are dropped.
 */
export class OmnichannelTimeline extends Component {
    static template = "omnichannel_base.Timeline";
    static props = { ...standardWidgetProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.busService = useService("bus_service");
        this.mailStore = useService("mail.store");
        this.listRef = useRef("list");
        this.searchRef = useRef("search");
        this.sentinelRef = useRef("sentinel");
        this.state = useState({
            items: [],
            nextCursor: false,
            loading: false,
            loaded: false,
            error: false,
            filters: { channelType: "", kindGroup: "", dateFrom: "", dateTo: "", search: "" },
            options: { channel_types: [], kind_groups: [] },
            runningActions: {},
        });
        this.inFlight = null;
        this.reloadPending = false;
        this.morePending = false;
        this.sentinelVisible = false;
        this.onSearchInput = useDebounced(this.onSearchInput, SEARCH_DELAY);

        onWillStart(async () => {
            this.state.options = await this.orm.call(
                "res.partner",
                "omnichannel_timeline_options",
                []
            );
        });

        // (Re)load the first page whenever the form shows another saved partner.
        useEffect(
            (resId) => {
                this.state.items = [];
                this.state.nextCursor = false;
                this.state.loaded = false;
                if (resId) {
                    this.reload();
                }
            },
            () => [this.resId]
        );

        // Infinite scroll: fetch the next page when the sentinel at the end shows up.
        useEffect(
            (sentinel) => {
                if (!sentinel || !window.IntersectionObserver) {
                    return;
                }
                const observer = new IntersectionObserver((entries) => {
                    this.sentinelVisible = entries.some((entry) => entry.isIntersecting);
                    if (this.sentinelVisible) {
                        this.loadMore();
                    }
                });
                observer.observe(sentinel);
                return () => {
                    this.sentinelVisible = false;
                    observer.disconnect();
                };
            },
            () => [this.sentinelRef.el]
        );

        this.onBusNotification = this.onBusNotification.bind(this);
        this.busService.subscribe(BUS_NOTIFICATION, this.onBusNotification);
        // The backend starts the bus with mail; starting it again is a no-op and keeps
        // live updates working wherever the widget is used.
        this.busService.start();
        onWillDestroy(() => this.busService.unsubscribe(BUS_NOTIFICATION, this.onBusNotification));
    }

    get resId() {
        return this.props.record.resId || false;
    }

    // ------------------------------------------------------------ loading

    /** Load the first page again, with the current filters. */
    reload() {
        this.reloadPending = true;
        return this.pump();
    }

    /** Load the page after the last one shown, unless one is already on its way. */
    loadMore() {
        if (this.inFlight || !this.state.nextCursor || !this.resId) {
            return this.inFlight;
        }
        this.morePending = true;
        return this.pump();
    }

    pump() {
        if (!this.inFlight) {
            this.inFlight = this.drain().finally(() => {
                this.inFlight = null;
                this.state.loading = false;
                this.continueIfSentinelVisible();
            });
        }
        return this.inFlight;
    }

    async drain() {
        while (this.reloadPending || this.morePending) {
            const reset = this.reloadPending;
            this.reloadPending = this.morePending = false;
            const resId = this.resId;
            if (!resId) {
                return;
            }
            this.state.loading = true;
            let page;
            try {
                page = await this.orm.call("res.partner", "omnichannel_timeline", [[resId]], {
                    filters: this.serverFilters(),
                    cursor: reset ? false : this.state.nextCursor,
                    limit: PAGE_SIZE,
                });
            } catch (error) {
                this.state.error = true;
                throw error;
            }
            if (this.reloadPending || resId !== this.resId) {
                continue; // superseded: the next turn of the loop loads the first page again
            }
            const items = page.items.map((item) => this.prepareItem(item));
            this.state.items = reset ? items : [...this.state.items, ...items];
            this.state.nextCursor = page.next_cursor;
            this.state.loaded = true;
            this.state.error = false;
        }
    }

    /** A short page can leave the sentinel on screen: the observer would not fire again. */
    continueIfSentinelVisible() {
        if (this.sentinelVisible && this.state.nextCursor && !this.state.error) {
            // let the new items render first, then look again
            requestAnimationFrame(() => {
                if (this.sentinelVisible && isNearEnd(this.listRef.el)) {
                    this.loadMore();
                }
            });
        }
    }

    serverFilters() {
        const { channelType, kindGroup, dateFrom, dateTo, search } = this.state.filters;
        const filters = {};
        if (channelType) {
            filters.channel_types = [channelType];
        }
        if (kindGroup) {
            filters.kind_groups = [kindGroup];
        }
        if (dateFrom) {
            filters.date_from = dateFrom;
        }
        if (dateTo) {
            filters.date_to = dateTo;
        }
        if (search.trim()) {
            filters.search = search.trim();
        }
        return filters;
    }

    prepareItem(item) {
        const date = deserializeDateTime(item.date);
        return {
            ...item,
            actions: item.actions || [],
            localDate: date,
            dayKey: date.toISODate(),
            time: date.toFormat("HH:mm"),
            directionIcon: DIRECTION_ICONS[item.direction] || "fa-circle-o",
        };
    }

    // ------------------------------------------------------------ rendering helpers

    /** Items grouped under their local day, newest day first (items come sorted). */
    get days() {
        const days = [];
        for (const item of this.state.items) {
            let day = days.at(-1);
            if (!day || day.key !== item.dayKey) {
                day = { key: item.dayKey, label: formatDay(item.localDate), items: [] };
                days.push(day);
            }
            day.items.push(item);
        }
        return days;
    }

    get hasFilters() {
        return Object.values(this.state.filters).some(Boolean);
    }

    get emptyText() {
        return this.hasFilters
            ? _t("Nothing on this timeline matches the filters.")
            : _t("No interactions with this contact yet.");
    }

    // ------------------------------------------------------------ handlers

    /** New filters: back to the newest items. */
    applyFilters(changes) {
        Object.assign(this.state.filters, changes);
        if (this.listRef.el) {
            this.listRef.el.scrollTop = 0;
        }
        this.reload();
    }

    onFilterChange(name, ev) {
        this.applyFilters({ [name]: ev.target.value });
    }

    onSearchInput(ev) {
        if (ev.target.isConnected && this.state.filters.search !== ev.target.value) {
            this.applyFilters({ search: ev.target.value });
        }
    }

    onSearchKeydown(ev) {
        if (ev.key === "Enter") {
            ev.preventDefault();
            this.onSearchInput.cancel();
            this.applyFilters({ search: ev.target.value });
        }
    }

    clearFilters() {
        this.onSearchInput.cancel();
        if (this.searchRef.el) {
            this.searchRef.el.value = ""; // typed text not yet searched for
        }
        this.applyFilters({ channelType: "", kindGroup: "", dateFrom: "", dateTo: "", search: "" });
    }

    onListScroll() {
        if (isNearEnd(this.listRef.el)) {
            this.loadMore();
        }
    }

    openRecord(model, id) {
        return this.action.doAction({
            type: "ir.actions.act_window",
            res_model: model,
            res_id: id,
            views: [[false, "form"]],
            target: "current",
        });
    }

    onSourceClick(item, ev) {
        ev.preventDefault();
        return this.openRecord(item.source.model, item.source.id);
    }

    onContactClick(item, ev) {
        ev.preventDefault();
        return this.openRecord("res.partner", item.contact.id);
    }

    onReplyClick(item) {
        return this.openRecord("omnichannel.conversation", item.conversation_id);
    }

    /**
     * A button a channel module put on the item (``item.actions``, e.g. "Call back"): run the
     * model method on the record, then the action it returns; one click at a time per button.
     */
    async onItemAction(item, itemAction, index) {
        const key = `${item.id}:${index}`;
        if (this.state.runningActions[key]) {
            return;
        }
        this.state.runningActions[key] = true;
        try {
            const result = await this.orm.call(itemAction.model, itemAction.method, [
                [itemAction.res_id],
            ]);
            if (result && typeof result === "object") {
                await this.action.doAction(result);
            }
        } finally {
            delete this.state.runningActions[key];
        }
        if (status(this) !== "destroyed") {
            // the action may have added to the timeline (a call placed)
            this.reload();
        }
    }

    async onLogInteraction() {
        const action = await this.orm.call("res.partner", "action_omni_log_interaction", [
            [this.resId],
        ]);
        await this.action.doAction(action, { onClose: () => this.reload() });
    }

    async onScheduleActivity() {
        const resId = this.resId;
        await this.mailStore.scheduleActivity("res.partner", [resId]);
        // the chatter next to the timeline shows the new activity too
        const thread = this.mailStore.Thread.get({ model: "res.partner", id: resId });
        thread?.fetchData(["activities"]);
        this.reload();
    }

    onBusNotification(payload) {
        if (this.resId && payload?.partner_ids?.includes(this.resId)) {
            // A background refresh that fails shows in the widget (state.error), not as
            // one error dialog per notification.
            this.reload().catch(() => {});
        }
    }
}

const DIRECTION_ICONS = {
    inbound: "fa-arrow-down",
    outbound: "fa-arrow-up",
    internal: "fa-exchange",
};

function formatDay(date) {
    return date.toLocaleString({ weekday: "long", day: "numeric", month: "long", year: "numeric" });
}

function isNearEnd(el) {
    return Boolean(el) && el.scrollTop + el.clientHeight >= el.scrollHeight - SCROLL_THRESHOLD;
}

export const omnichannelTimeline = {
    component: OmnichannelTimeline,
    additionalClasses: ["o_omni_timeline_widget", "w-100"],
};

registry.category("view_widgets").add("omnichannel_timeline", omnichannelTimeline);
