"""Calls to the Shopify Admin API, on the shared HTTP client, and the
queries and answer schemas of the adapter's calls.

* ``ShopifyHttpClient``: the connector's client with Shopify's
  ``X-Shopify-Access-Token`` header (timeouts, 429/5xx retries, rate limit
  and outbound log come from the shared client).
* ``ShopifyGraphql``: one GraphQL endpoint of one backend. It paces calls by
  the calculated query cost that Shopify reports in
  ``extensions.cost.throttleStatus`` (leaky bucket: ``currentlyAvailable``
  points, refilled at ``restoreRate`` points a second), turns a ``THROTTLED``
  error into ``RateLimitedError`` and checks every answer against a small
  JSON schema before anything reads it.
"""

import math
import time

from jsonschema import Draft202012Validator

from odoo.addons.distribution_connector.errors import (
    PermanentError,
    RateLimitedError,
)
from odoo.addons.distribution_connector.http_client import BackendHttpClient

#: cost assumed for a call whose cost Shopify has not reported yet
DEFAULT_QUERY_COST = 10


class Throttled(RateLimitedError):
    """Shopify refused to run a query: its cost budget is spent. ``wait`` is
    the time, in seconds, until the budget holds the query's cost again."""

    def __init__(self, message, wait):
        super().__init__(message, retry_after=max(1, math.ceil(wait)))
        self.wait = wait


class ShopifyHttpClient(BackendHttpClient):
    def auth_headers(self):
        token = self.backend._get_secret("api_secret")
        return {"X-Shopify-Access-Token": token} if token else {}


def check(schema, data, what):
    """``data`` when it matches ``schema``; else a ``PermanentError``."""
    errors = sorted(
        Draft202012Validator(schema).iter_errors(data),
        key=lambda e: list(e.absolute_path),
    )
    if errors:
        first = errors[0]
        path = "$" + "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.absolute_path
        )
        raise PermanentError(
            f"Shopify answered {what} in an unexpected shape: {path}: "
            f"{first.message[:300]}",
            kind="permanent",
            json_path=path,
        )
    return data


NUMBER = {"type": "number"}

ENVELOPE_SCHEMA = {
    "type": "object",
    "properties": {
        "data": {"type": ["object", "null"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "extensions": {"type": "object"},
                },
            },
        },
        "extensions": {
            "type": "object",
            "properties": {
                "cost": {
                    "type": "object",
                    "properties": {
                        "requestedQueryCost": {"type": ["number", "null"]},
                        "actualQueryCost": {"type": ["number", "null"]},
                        "throttleStatus": {
                            "type": "object",
                            "required": [
                                "maximumAvailable",
                                "currentlyAvailable",
                                "restoreRate",
                            ],
                            "properties": {
                                "maximumAvailable": NUMBER,
                                "currentlyAvailable": NUMBER,
                                "restoreRate": {
                                    "type": "number",
                                    "exclusiveMinimum": 0,
                                },
                            },
                        },
                    },
                }
            },
        },
    },
    "anyOf": [{"required": ["data"]}, {"required": ["errors"]}],
}


class ShopifyGraphql:
    """The GraphQL Admin API of one backend, paced by its query cost."""

    def __init__(self, client, api_version):
        self.client = client
        self.path = f"admin/api/{api_version}/graphql.json"
        #: last throttle status seen, and when (monotonic seconds)
        self.throttle = None
        self.seen_at = None
        #: requested cost of each operation, as Shopify reported it
        self.costs = {}

    @property
    def max_inline_wait(self):
        return self.client.max_inline_wait

    def execute(self, operation, query, variables, topic):
        """Run one query or mutation; return its ``data`` (a dict).

        :param operation: a name for the call, to remember its cost
        :raise RateLimitedError: throttled, or pacing would wait too long
        :raise PermanentError: GraphQL errors or a malformed answer
        """
        cost = self.costs.get(operation, DEFAULT_QUERY_COST)
        self.pace(cost)
        try:
            return self._call(operation, query, variables, topic)
        except Throttled as err:
            # the query did not run: safe to send it again, once
            if err.wait > self.max_inline_wait:
                raise
            self.client.sleep(err.wait)
            return self._call(operation, query, variables, topic)

    def pace(self, cost):
        """Wait until the bucket holds ``cost`` points (in place when short)."""
        wait = self.wait_for(cost)
        if wait <= 0:
            return
        if wait > self.max_inline_wait:
            raise RateLimitedError(
                f"Shopify query cost budget exhausted: {wait:.1f} s until "
                f"{cost} points are available",
                retry_after=max(1, math.ceil(wait)),
            )
        self.client.sleep(wait)
        # assume the bucket refilled as announced while we waited
        self.seen_at = (self.seen_at or time.monotonic()) - wait

    def wait_for(self, cost):
        if not self.throttle:
            return 0.0
        status = self.throttle
        elapsed = max(0.0, time.monotonic() - self.seen_at)
        available = min(
            status["maximumAvailable"],
            status["currentlyAvailable"] + elapsed * status["restoreRate"],
        )
        if available >= cost:
            return 0.0
        return (cost - available) / status["restoreRate"]

    def _call(self, operation, query, variables, topic):
        answer = self.client.json(
            "POST",
            self.path,
            topic=topic,
            json={"query": query, "variables": variables},
        )
        check(ENVELOPE_SCHEMA, answer, f"{operation}")
        cost = (answer.get("extensions") or {}).get("cost") or {}
        if cost.get("throttleStatus"):
            self.throttle = cost["throttleStatus"]
            self.seen_at = time.monotonic()
        if cost.get("requestedQueryCost") is not None:
            self.costs[operation] = cost["requestedQueryCost"]
        errors = answer.get("errors") or []
        throttled = [
            e for e in errors if (e.get("extensions") or {}).get("code") == "THROTTLED"
        ]
        if throttled:
            requested = cost.get("requestedQueryCost") or self.costs.get(
                operation, DEFAULT_QUERY_COST
            )
            raise Throttled(
                f"Shopify throttled {operation}: {throttled[0].get('message')}",
                wait=self.wait_for(requested) or 1.0,
            )
        if errors:
            messages = "; ".join(str(e.get("message"))[:200] for e in errors[:5])
            raise PermanentError(
                f"Shopify rejected {operation}: {messages}", kind="permanent"
            )
        if not isinstance(answer.get("data"), dict):
            raise PermanentError(
                f"Shopify answered {operation} without data.", kind="permanent"
            )
        return answer["data"]


# -- the queries and mutations the adapter sends, and their answers ---------

SET_QUANTITIES = """
mutation DistributionSetAvailable($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"""

SET_QUANTITIES_SCHEMA = {
    "type": "object",
    "required": ["inventorySetQuantities"],
    "properties": {
        "inventorySetQuantities": {
            "type": "object",
            "required": ["userErrors"],
            "properties": {
                "inventoryAdjustmentGroup": {"type": ["object", "null"]},
                "userErrors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["message"],
                        "properties": {
                            "code": {"type": ["string", "null"]},
                            "field": {
                                "type": ["array", "null"],
                                "items": {"type": "string"},
                            },
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}

AVAILABLE_QUANTITIES = """
query DistributionAvailable($ids: [ID!]!, $locationId: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      inventoryLevel(locationId: $locationId) {
        quantities(names: ["available"]) { name quantity }
      }
    }
  }
}
"""

AVAILABLE_QUANTITIES_SCHEMA = {
    "type": "object",
    "required": ["nodes"],
    "properties": {
        "nodes": {
            "type": "array",
            "items": {
                "type": ["object", "null"],
                "properties": {
                    "id": {"type": "string"},
                    "inventoryLevel": {
                        "type": ["object", "null"],
                        "required": ["quantities"],
                        "properties": {
                            "quantities": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["name", "quantity"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "quantity": {"type": "integer"},
                                    },
                                },
                            }
                        },
                    },
                },
            },
        }
    },
}

FULFILLMENT_ORDERS = """
query DistributionFulfillmentOrders($id: ID!, $after: String) {
  order(id: $id) {
    id
    fulfillmentOrders(first: 5, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        status
        lineItems(first: 50) {
          pageInfo { hasNextPage }
          nodes { id sku remainingQuantity lineItem { id } }
        }
      }
    }
  }
}
"""

PAGE_INFO = {
    "type": "object",
    "required": ["hasNextPage"],
    "properties": {
        "hasNextPage": {"type": "boolean"},
        "endCursor": {"type": ["string", "null"]},
    },
}

FULFILLMENT_ORDERS_SCHEMA = {
    "type": "object",
    "required": ["order"],
    "properties": {
        "order": {
            "type": ["object", "null"],
            "required": ["fulfillmentOrders"],
            "properties": {
                "fulfillmentOrders": {
                    "type": "object",
                    "required": ["pageInfo", "nodes"],
                    "properties": {
                        "pageInfo": PAGE_INFO,
                        "nodes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "status", "lineItems"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "status": {"type": "string"},
                                    "lineItems": {
                                        "type": "object",
                                        "required": ["pageInfo", "nodes"],
                                        "properties": {
                                            "pageInfo": PAGE_INFO,
                                            "nodes": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "required": [
                                                        "id",
                                                        "remainingQuantity",
                                                        "lineItem",
                                                    ],
                                                    "properties": {
                                                        "id": {"type": "string"},
                                                        "sku": {
                                                            "type": ["string", "null"]
                                                        },
                                                        "remainingQuantity": {
                                                            "type": "integer",
                                                            "minimum": 0,
                                                        },
                                                        "lineItem": {
                                                            "type": "object",
                                                            "required": ["id"],
                                                            "properties": {
                                                                "id": {"type": "string"}
                                                            },
                                                        },
                                                    },
                                                },
                                            },
                                        },
                                    },
                                },
                            },
                        },
                    },
                }
            },
        }
    },
}

FULFILLMENT_CREATE = """
mutation DistributionFulfill($fulfillment: %(input)s!) {
  %(mutation)s(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""


def fulfillment_create_schema(mutation):
    return {
        "type": "object",
        "required": [mutation],
        "properties": {
            mutation: {
                "type": "object",
                "required": ["userErrors"],
                "properties": {
                    "fulfillment": {
                        "type": ["object", "null"],
                        "required": ["id"],
                        "properties": {"id": {"type": "string"}},
                    },
                    "userErrors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {"message": {"type": "string"}},
                        },
                    },
                },
            }
        },
    }


ORDERS_PAGE_SCHEMA = {
    "type": "object",
    "required": ["orders"],
    "properties": {
        "orders": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "updated_at"],
                "properties": {
                    "id": {"type": ["integer", "string"], "pattern": r"^\d+$"},
                    "updated_at": {"type": "string", "minLength": 1},
                },
            },
        }
    },
}
