module sonde.dev/fixtures

go 1.19
