from . import woocommerce
