DROP TABLE IF EXISTS bus_payloads;
