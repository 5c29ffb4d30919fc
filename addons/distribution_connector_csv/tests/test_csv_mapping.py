"""The CSV reader and writer on their own: dialects, maps by header or
position, formats, line numbers."""

from odoo.tests.common import BaseCase, tagged

from ..adapters import csv_mapping
from ..adapters.csv_mapping import Column, CsvDialect


@tagged("-at_install", "post_install")
class TestCsvMapping(BaseCase):
    def test_columns_by_position_quotes_and_multiline_cells(self):
        data = b'WH1,"SKU,1",3\nWH1,"SKU\n2",4\n\nWH1,SKU-3,x\n'
        dialect = CsvDialect(encoding="utf-8", delimiter=",", header=False)
        columns = [Column("location", "1"), Column("sku", "2"), Column("quantity", "3")]
        header, rows = csv_mapping.parse_file(data, dialect, columns, "stock_in")
        self.assertIsNone(header)
        self.assertEqual(
            [(row.line, row.values) for row in rows[:2]],
            [
                (1, {"location": "WH1", "sku": "SKU,1", "quantity": 3}),
                (2, {"location": "WH1", "sku": "SKU\n2", "quantity": 4}),
            ],
        )
        # the multi-line cell counts: the last row starts on line 5
        self.assertEqual(rows[2].line, 5)
        self.assertEqual(
            rows[2].errors[0].message("f.csv"),
            "f.csv, line 5, column #3: quantity: 'x' is not a number",
        )

    def test_writer_round_trips_through_the_reader(self):
        columns = [
            Column("order_ref", "Ref"),
            Column("sku", "Art."),
            Column("quantity", "Qté", decimal_separator=","),
        ]
        dialect = CsvDialect(encoding="latin-1", delimiter=";")
        data = csv_mapping.write_table(
            columns,
            dialect,
            "order_out",
            [{"order_ref": "S1", "sku": 'A;"B"', "quantity": 1.5}],
        )
        self.assertEqual(data, 'Ref;Art.;Qté\r\nS1;"A;""B""";1,5\r\n'.encode("latin-1"))
        with self.assertRaises(csv_mapping.FileError):
            csv_mapping.write_table(
                columns, dialect, "order_out", [{"order_ref": "€", "sku": "A"}]
            )

    def test_utf8_bom_and_rows_grouped_by_order(self):
        data = "\ufefforder_ref;sku;quantity\nS1;A;1\nS2;B;2\nS1;C;3\n".encode()
        dialect = CsvDialect(encoding="utf-8-sig")
        columns = csv_mapping.default_columns("shipment_in")
        header, rows = csv_mapping.parse_file(data, dialect, columns, "shipment_in")
        self.assertEqual(header, ["order_ref", "sku", "quantity"])
        groups = csv_mapping.group_rows("shipment_in", rows)
        self.assertEqual(
            [
                csv_mapping.shipment([row.values for row in group])
                for group in groups.values()
            ],
            [
                {
                    "order_external_id": "S1",
                    "lines": [{"sku": "A", "quantity": 1}, {"sku": "C", "quantity": 3}],
                },
                {"order_external_id": "S2", "lines": [{"sku": "B", "quantity": 2}]},
            ],
        )
