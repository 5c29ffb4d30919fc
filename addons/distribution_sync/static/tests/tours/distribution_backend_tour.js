import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

/**
 * Create a sales channel backend from the Configuration menu, try to activate
 * it before its webhook secret is set (refused), set the secret and activate.
 */
registry.category("web_tour.tours").add("distribution_backend_tour", {
    steps: () => [
        ...stepUtils.goToAppSteps(
            "distribution_connector.menu_distribution_root",
            "Open the Distribution app"
        ),
        {
            trigger: "button[data-menu-xmlid='distribution_connector.menu_distribution_configuration']",
            run: "click",
        },
        {
            content: "Open the backends",
            trigger: "a[data-menu-xmlid='distribution_connector.menu_distribution_backend']",
            run: "click",
        },
        {
            trigger: "button.o_list_button_add",
            run: "click",
        },
        {
            content: "Name the backend",
            trigger: ".o_form_view .o_field_widget[name=name] input",
            run: "edit Tour web shop",
        },
        {
            content: "A new backend waits, paused",
            trigger: ".o_form_view .ribbon:contains(Paused)",
        },
        {
            content: "Add the warehouse that serves it",
            trigger: ".o_field_widget[name=warehouse_line_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=warehouse_line_ids] .o_field_widget[name=warehouse_id] input",
            run: "edit Tour warehouse",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains(Tour warehouse)",
            run: "click",
        },
        {
            content: "Activating without a webhook secret is refused",
            trigger: ".o_form_view button[name=action_resume]",
            run: "click",
        },
        {
            trigger: ".modal:contains(Set the webhook secret of Tour web shop)",
        },
        {
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        {
            content: "Set the webhook secret",
            trigger: ".o_notebook .nav-link:contains(Webhooks)",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=webhook_secret] input",
            run: "edit tour-webhook-secret",
        },
        {
            content: "Activate",
            trigger: ".o_form_view button[name=action_resume]",
            run: "click",
        },
        {
            content: "Active: it can be paused again, the ribbon is gone",
            trigger: ".o_form_view button[name=action_pause]",
        },
        {
            trigger: ".o_form_view:not(:has(.ribbon:contains(Paused)))",
        },
        {
            content: "Its webhook URL is ready to copy",
            trigger: ".o_form_view .o_field_widget[name=webhook_url]:contains(/distribution/webhook/)",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=webhook_secret_set] input:checked",
        },
    ],
});
