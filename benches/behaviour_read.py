"""Writes a seeded Online-Retail-shaped log (InvoiceNo, StockCode, Description, Quantity,
InvoiceDate with times, UnitPrice, CustomerID as float text, Country), for
benches/behaviour_read.sh. Usage: behaviour_read.py LINES OUT.csv"""
import random
import sys


def main():
    lines, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(1)
    countries = ["United Kingdom", "France", "Germany", "EIRE", "Spain", "Netherlands"]
    codes = [f"{85000 + i}{s}" for i in range(400) for s in ("", "A")]
    prices = ["2.55", "3.39", "0.85", "1.25"]
    invoice, written = 536000, 0
    with open(out, "w") as f:
        f.write("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")
        while written < lines:
            customer = rng.randint(12000, 212000)
            invoice += 1
            m, d = rng.randint(1, 12), rng.randint(1, 28)
            h, mi = rng.randint(8, 19), rng.randint(0, 59)
            country = rng.choice(countries)
            for _ in range(rng.randint(1, 8)):
                q = rng.randint(1, 24)
                if rng.random() < 0.02:
                    no, q = f"C{invoice}", -q
                else:
                    no = str(invoice)
                f.write(f"{no},{rng.choice(codes)},ITEM,{q},{m}/{d}/2011 {h}:{mi:02},"
                        f"{rng.choice(prices)},{customer}.0,{country}\n")
                written += 1


main()
