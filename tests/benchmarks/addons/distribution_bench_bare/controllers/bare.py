"""The baseline of the webhook benchmark: the webhook route's decorator and
nothing else (no database access, no signature check)."""

from odoo import http
from odoo.http import request


class DistributionBenchBare(http.Controller):
    @http.route(
        "/distribution/bench/bare",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def bare(self, **_params):
        request.httprequest.get_data()
        return request.make_json_response({"status": "ok"})
