import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

/**
 * Open the dashboard from the Distribution menu and check that the figures
 * of the backend the test prepared are on its card, on its Health screen and
 * behind its Pending button.
 */
registry.category("web_tour.tours").add("distribution_dashboard_tour", {
    steps: () => [
        ...stepUtils.goToAppSteps(
            "distribution_connector.menu_distribution_root",
            "Open the Distribution app"
        ),
        {
            content: "Open the dashboard",
            trigger: ".o_main_navbar [data-menu-xmlid='distribution_sync.menu_distribution_dashboard']",
            run: "click",
        },
        {
            content: "The backend has its card",
            trigger: ".o_kanban_record:contains(Tour channel)",
        },
        {
            content: "Card: pending exchanges",
            trigger:
                ".o_kanban_record:contains(Tour channel) button[name=action_health_pending]:contains(4 pending)",
        },
        {
            content: "Card: latency p50 and p95",
            trigger:
                ".o_kanban_record:contains(Tour channel) [data-figure=latency_p50]:contains(11.0)",
        },
        {
            trigger:
                ".o_kanban_record:contains(Tour channel) [data-figure=latency_p95]:contains(20.0)",
        },
        {
            content: "Card: errors and open exceptions",
            trigger:
                ".o_kanban_record:contains(Tour channel) button[name=action_health_errors]:contains(3 in error)",
        },
        {
            trigger:
                ".o_kanban_record:contains(Tour channel) button[name=action_view_exceptions]:contains(1 open exception)",
        },
        {
            content: "Card: failure rate and duplicates",
            trigger:
                ".o_kanban_record:contains(Tour channel) [data-figure=failure_rate]:contains(12.5)",
        },
        {
            trigger:
                ".o_kanban_record:contains(Tour channel) [data-figure=duplicates]:contains(7)",
        },
        {
            content: "Open its Health screen",
            trigger: ".o_kanban_record:contains(Tour channel) button[name=action_health_open]",
            run: "click",
        },
        {
            content: "Health: the percentiles",
            trigger: ".o_form_view [name=health_latency_p95]:contains(20.0)",
        },
        {
            content: "Health: the flow line",
            trigger: ".o_form_view [name=health_flow_ids] .o_data_row:contains(order):contains(21)",
        },
        {
            content: "Health: open exceptions by age",
            trigger: ".o_form_view [name=health_exception_1d]:contains(1)",
        },
        {
            trigger: ".o_notebook a:contains(Exceptions by type)",
            run: "click",
        },
        {
            content: "Health: open exceptions by type",
            trigger: ".o_form_view [name=health_exception_age_ids] .o_data_row:contains(Unknown SKU)",
        },
        {
            content: "Open the pending exchanges",
            trigger: ".o_form_view button[name=action_health_pending]",
            run: "click",
        },
        {
            content: "The pending exchanges are listed",
            trigger: ".o_list_view .o_data_row:contains(TOUR-PENDING-4)",
        },
    ],
});
