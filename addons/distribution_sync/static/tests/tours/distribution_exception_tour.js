import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

/**
 * Review an unknown-SKU exception from the queue: read its payload, see the
 * other exception waiting on the same SKU, map the SKU to a product and
 * replay both.
 */
registry.category("web_tour.tours").add("distribution_exception_tour", {
    steps: () => [
        ...stepUtils.goToAppSteps(
            "distribution_connector.menu_distribution_root",
            "Open the Distribution app"
        ),
        {
            trigger: "button[data-menu-xmlid='distribution_connector.menu_distribution_operations']",
            run: "click",
        },
        {
            content: "Open the exception queue",
            trigger: "a[data-menu-xmlid='distribution_sync.menu_distribution_exception']",
            run: "click",
        },
        {
            content: "The exception is in the Unknown SKU column",
            trigger:
                ".o_kanban_group:contains(Unknown SKU) .o_kanban_record:contains(TOUR-SKU-1):contains(TOUR-1001)",
            run: "click",
        },
        {
            content: "The form names the SKU and the JSON path",
            trigger: ".o_form_view .o_field_widget[name=key]:contains(TOUR-SKU-1)",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=json_path]:contains($.lines[0].sku)",
        },
        {
            content: "The raw payload, pretty-printed",
            trigger: ".o_form_view .o_field_widget[name=payload_pretty] .ace_content:contains(billing_address)",
        },
        {
            content: "Another exception waits on the same SKU",
            trigger: ".o_form_view button[name=action_open_waiting]:contains(2)",
        },
        {
            content: "Map the SKU",
            trigger: ".o_form_view button[name=action_map_sku]",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=product_id] input",
            run: "edit Tour mug",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains(Tour mug)",
            run: "click",
        },
        {
            content: "Both waiting exceptions will be replayed",
            trigger: ".modal .o_field_widget[name=waiting_count]:contains(2)",
        },
        {
            trigger: ".modal button[name=action_apply]",
            run: "click",
        },
        {
            content: "They are replayed",
            trigger: ".o_notification:contains(2 exceptions replayed)",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
    ],
});
