import { registry } from "@web/core/registry";

/**
 * The Omnichannel dashboard in the Dashboards app, as an agent or a manager on the conversations
 * omnichannel_reports/tests/test_dashboard.py builds (channel "Dashboard Test Channel"):
 *
 * 1. every cell of the dashboard and of its Data sheet evaluates (no error, no access error), and
 *    the KPIs show numbers on whatever the user may see (demo data included);
 * 2. with the Channel filter on the test channel, the KPIs are exactly those of its five
 *    conversations, for the agent (hers and her team's) as for the manager.
 *
 * The grid and the cards are drawn on canvases: the values are read from the spreadsheet model
 * the dashboard action shows.
 */
const CHANNEL = "Dashboard Test Channel";
const AGENT = "Ana Tablero";

function findDashboardModel() {
    const stack = [odoo.__WOWL_DEBUG__.root.__owl__];
    while (stack.length) {
        const node = stack.pop();
        const dashboard = node.component?.state?.activeDashboard;
        if (dashboard?.model) {
            return dashboard.model;
        }
        stack.push(...Object.values(node.children || {}));
    }
    return undefined;
}

function position(model, sheetName, reference) {
    const { col, row } = reference.match(/^(?<col>[A-Z])(?<row>\d+)$/).groups;
    return {
        sheetId: model.getters.getSheetIdByName(sheetName),
        col: col.charCodeAt(0) - 65,
        row: Number(row) - 1,
    };
}

function cell(model, sheetName, reference) {
    return model.getters.getEvaluatedCell(position(model, sheetName, reference));
}

const SHEET_RANGES = { Dashboard: ["A", "H", 23, 34], Data: ["A", "C", 1, 15] };

/** Waits until nothing is loading any more, then fails on any cell in error. */
async function settledModel() {
    const deadline = Date.now() + 30000;
    for (;;) {
        const model = findDashboardModel();
        let loading = !model;
        const errors = [];
        for (const [sheet, [first, last, top, bottom]] of Object.entries(model ? SHEET_RANGES : {})) {
            for (let col = first.charCodeAt(0); col <= last.charCodeAt(0); col++) {
                for (let row = top; row <= bottom; row++) {
                    const reference = `${String.fromCharCode(col)}${row}`;
                    const evaluated = cell(model, sheet, reference);
                    if (evaluated.type === "error" && evaluated.value === "Loading...") {
                        loading = true;
                    } else if (evaluated.type === "error") {
                        errors.push(`${sheet}!${reference}: ${evaluated.value} ${evaluated.message || ""}`);
                    }
                }
            }
        }
        if (!loading) {
            if (errors.length) {
                throw new Error(`Dashboard cells in error: ${errors.join("; ")}`);
            }
            return model;
        }
        if (Date.now() > deadline) {
            throw new Error("The dashboard is still loading after 30 seconds");
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

function assertNumber(model, reference, label) {
    const evaluated = cell(model, "Data", reference);
    if (evaluated.type !== "number") {
        throw new Error(`${label} (Data!${reference}) is not a number: ${JSON.stringify(evaluated.value)}`);
    }
    return evaluated.value;
}

// Data sheet cell, label, value on the five conversations of the test channel.
const EXPECTED = [
    ["C2", "Conversations", 5],
    ["C3", "Backlog", 2],
    ["C4", "First response, median", 1.5],
    ["C5", "First response, average", 1.6],
    ["C6", "Resolution, median", 6],
    ["C7", "Resolution, average", 11],
    ["C10", "First-contact resolution", 200 / 3],
    ["C11", "CSAT", 50],
    ["C12", "Survey response rate", 200 / 3],
    ["C15", "Resolved", 3],
];

registry.category("web_tour.tours").add("omnichannel_dashboard_tour", {
    url: "/odoo",
    steps: () => [
        {
            trigger: ".o_navbar_apps_menu button",
            run: "click",
        },
        {
            content: "Open the Dashboards app",
            trigger: ".o_app[data-menu-xmlid='spreadsheet_dashboard.spreadsheet_dashboard_menu_root']",
            run: "click",
        },
        {
            content: "Pick the Omnichannel dashboard",
            trigger: ".o_spreadsheet_dashboard_search_panel li[data-name='Omnichannel']",
            run: "click",
        },
        {
            trigger: ".o_spreadsheet_dashboard_search_panel li.active[data-name='Omnichannel']",
        },
        {
            content: "The dashboard is drawn, on real data (not the sample)",
            trigger: ".o_spreadsheet_dashboard_action .o_renderer:not(.o-sample-dashboard) .o-grid",
        },
        {
            content: "Every KPI shows a number",
            trigger: ".o_spreadsheet_dashboard_action .o-filter-value[title='Channel']",
            async run() {
                const model = await settledModel();
                for (const [reference, label] of EXPECTED) {
                    assertNumber(model, reference, label);
                }
                if (assertNumber(model, "C2", "Conversations") < 5) {
                    throw new Error("The test conversations are not counted");
                }
            },
        },
        {
            content: "Filter on the test channel",
            trigger: ".o-filter-value[title='Channel'] input",
            run: `edit ${CHANNEL}`,
        },
        {
            trigger: `.o-autocomplete--dropdown-item:contains('${CHANNEL}')`,
            run: "click",
        },
        {
            trigger: `.o-filter-value[title='Channel'] .o_tag:contains('${CHANNEL}')`,
        },
        {
            content: "The KPIs are those of the channel's five conversations",
            trigger: ".o_spreadsheet_dashboard_action .o-grid",
            async run() {
                const deadline = Date.now() + 30000;
                let model = await settledModel();
                // The filter reloads the pivots: wait for the new figures.
                while (cell(model, "Data", "C2").value !== 5 && Date.now() < deadline) {
                    await new Promise((resolve) => setTimeout(resolve, 200));
                    model = await settledModel();
                }
                for (const [reference, label, expected] of EXPECTED) {
                    const value = assertNumber(model, reference, label);
                    if (Math.abs(value - expected) > 1e-6) {
                        throw new Error(`${label}: ${value} instead of ${expected}`);
                    }
                }
                const agent = cell(model, "Dashboard", "A25").value;
                const conversations = cell(model, "Dashboard", "B25").value;
                if (agent !== AGENT || conversations !== 5 || cell(model, "Dashboard", "A26").value) {
                    throw new Error(`Agent table: ${agent} ${conversations}, then ${cell(model, "Dashboard", "A26").value}`);
                }
            },
        },
    ],
});
