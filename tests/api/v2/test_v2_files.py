"""Files as people have them, through a real server: an Excel workbook (whatever its name) and a
European CSV upload and train like a plain CSV, the answer says how the file was read, and a file
that is not a table is refused saying what it looks like. Both APIs' upload paths."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest
import requests

from aedetect.client import ApiError, Client
from support.server import ServerProcess, V1Client

COLUMNS = ["machine", "count", "temperature", "pressure"]


def plant(rows: int = 200, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    machine = rng.choice(["L1", "L2", "L3"], size=rows)
    base = pd.Series(machine).map({"L1": 100.0, "L2": 120.0, "L3": 140.0}).to_numpy()
    return pd.DataFrame(
        {
            "machine": machine,
            "count": rng.integers(0, 50, size=rows),
            "temperature": (base + rng.normal(0, 1, rows)).round(2),
            "pressure": (base / 50 + rng.normal(0, 0.02, rows)).round(3),
        }
    )


def workbook(sheets: dict[str, pd.DataFrame]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, frame in sheets.items():
        sheet = book.create_sheet(title)
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append([v.item() if hasattr(v, "item") else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def european(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, sep=";", decimal=",").encode("utf-8-sig")


def profile(dataset: dict[str, object]) -> list[tuple[object, ...]]:
    columns = dataset["columns"]
    assert isinstance(columns, list)
    return [(c["name"], c["kind"], c["distinct"], c["missing_share"]) for c in columns]


def refused(server: ServerProcess, content: bytes, **params: str) -> dict[str, object]:
    response = requests.post(
        f"{server.url}/api/v2/datasets", params=params, files={"file": ("upload.csv", content)}, timeout=120
    )
    assert response.status_code == 400, response.text
    body: dict[str, object] = response.json()
    return body


def train(api: Client, name: str, dataset: str) -> None:
    api.create_model(
        name, dataset=dataset, columns=COLUMNS, params={"epochs": 3, "random_state": 0, "n_hidden": [8, 3]}
    )
    job = api.train(name, wait=True, progress=False)
    assert job["status"] == "succeeded", job


def test_a_workbook_named_csv_uploads_and_trains_like_its_csv_twin(api: Client) -> None:
    frame = plant()
    twin = api.upload_dataset(io.BytesIO(frame.to_csv(index=False).encode()), "plant-twin.csv")
    book = api.upload_dataset(io.BytesIO(workbook({"Readings": frame})), "plant-book.csv")
    assert (book["rows"], profile(book)) == (twin["rows"], profile(twin))
    assert book["format"] is not None and twin["format"] is not None
    assert (book["format"]["kind"], book["format"]["sheet"]) == ("xlsx", "Readings")
    assert (twin["format"]["kind"], twin["format"]["delimiter"]) == ("csv", ",")
    assert api.dataset(book["id"])["preview"] == api.dataset(twin["id"])["preview"]
    train(api, "files-xlsx", book["id"])
    train(api, "files-twin", twin["id"])
    rows = frame.head(5).to_dict(orient="records")
    from_book = [r["score"] for r in api.score("files-xlsx", rows)["rows"]]
    from_twin = [r["score"] for r in api.score("files-twin", rows)["rows"]]
    assert from_book == pytest.approx(from_twin, rel=1e-4)


def test_a_sheet_is_chosen_by_name_and_an_unknown_one_is_named(api: Client, v2_server: ServerProcess) -> None:
    data = workbook({"Notes": pd.DataFrame({"note": ["read me"]}), "Line 7": plant(30)})
    chosen = api.upload_dataset(io.BytesIO(data), "book.xlsx", sheet="Line 7")
    assert chosen["format"] is not None and chosen["format"]["sheet"] == "Line 7"
    assert chosen["format"]["sheets"] == ["Notes", "Line 7"]
    assert [c["name"] for c in chosen["columns"]] == COLUMNS and chosen["rows"] == 30
    first = api.upload_dataset(io.BytesIO(data), "book.xlsx")
    assert first["format"] is not None and first["format"]["sheet"] == "Notes"
    body = refused(v2_server, data, sheet="Line 9")
    assert body["field"] == "sheet"
    assert "no sheet 'Line 9'; its sheets are Notes, Line 7" in str(body["detail"])


def test_a_european_csv_gets_numbers_and_the_answer_shows_its_dialect(api: Client) -> None:
    frame = plant(50)
    answer = api.upload_dataset(io.BytesIO(european(frame)), "werte.csv")
    kinds = {c["name"]: c["kind"] for c in answer["columns"]}
    assert kinds == {
        "machine": "categorical",
        "count": "numeric",
        "temperature": "numeric",
        "pressure": "numeric",
    }
    assert answer["format"] is not None
    assert (answer["format"]["delimiter"], answer["format"]["decimal"]) == (";", ",")
    assert answer["format"]["encoding"] == "utf-8-sig"
    assert api.dataset(answer["id"])["format"] == answer["format"]
    preview = api.dataset(answer["id"])["preview"]
    assert preview[0]["temperature"] == frame["temperature"].iloc[0]


def test_decimal_point_given_keeps_comma_values_as_text(api: Client) -> None:
    answer = api.upload_dataset(io.BytesIO(european(plant(50))), "werte.csv", decimal=".")
    kinds = {c["name"]: c["kind"] for c in answer["columns"]}
    assert kinds["temperature"] == "categorical" and kinds["count"] == "numeric"
    assert answer["format"] is not None and answer["format"]["decimal"] == "."
    preview = api.dataset(answer["id"])["preview"]  # the stored file reads as it was read
    assert isinstance(preview[0]["temperature"], str) and "," in preview[0]["temperature"]


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("data.csv", "a,b\n1,2\n")
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\n", "this looks like a PDF document"),
        (_zip(), "this looks like a ZIP archive"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "this looks like an image (PNG)"),
    ],
)
def test_a_file_that_is_not_a_table_says_what_it_looks_like(
    api: Client, v2_server: ServerProcess, content: bytes, says: str
) -> None:
    before = len(api.datasets(limit=500)["items"])
    body = refused(v2_server, content)
    assert body["field"] == "file" and says in str(body["detail"]), body
    assert len(api.datasets(limit=500)["items"]) == before


def test_a_decimal_comma_body_is_scored_like_the_file_it_was_trained_on(api: Client) -> None:
    frame = plant(200, seed=9)
    dataset = api.upload_dataset(io.BytesIO(european(frame)), "messwerte.csv")
    train(api, "files-eu", dataset["id"])
    body = european(frame.head(20))
    scored = pd.read_csv(io.StringIO(api.score_csv("files-eu", body)))
    assert len(scored) == 20 and scored["temperature"].dtype == np.float64
    rows = frame.head(20).to_dict(orient="records")
    expected = [r["score"] for r in api.score("files-eu", rows)["rows"]]
    assert scored["anomaly_score"].to_list() == pytest.approx(expected, rel=1e-5)


def test_v1_data_node_takes_a_workbook(v2_server: ServerProcess) -> None:
    client = V1Client(v2_server.url)
    client.create_network("nnxlsx")
    frame = plant(60)
    assert client.upload("nnxlsx", "datasrc", "plant.xlsx", workbook({"S": frame})) == [
        "1 file upload success"
    ]
    files = client.call("GET", client.data_path("nnxlsx", "datasrc"))["files"]
    assert [(f["name"], f["rows"], f["columns"]) for f in files] == [("plant.xlsx", 60, COLUMNS)]
    client.feeder("nnxlsx", "feed_train", COLUMNS)
    client.netconf("nnxlsx", n_hidden=[8, 3])
    assert client.train("nnxlsx")[2] == "nnxlsx_1_netconf_node"
    message = client.error(
        "POST",
        client.data_path("nnxlsx", "datasrc"),
        400,
        "this looks like a PDF document",
        files={"file": ("more.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")},
    )
    assert "more.csv" in message


def test_client_error_of_an_unknown_sheet_names_the_field(api: Client) -> None:
    with pytest.raises(ApiError) as caught:
        api.upload_dataset(io.BytesIO(workbook({"A": plant(5)})), "a.xlsx", sheet="B")
    assert caught.value.status == 400 and caught.value.field == "sheet"
