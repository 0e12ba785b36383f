from datetime import date

from defusedxml import ElementTree as ET

from services.metrics_worker.chart import series_svg
from services.metrics_worker.months import month_range

SVG = "{http://www.w3.org/2000/svg}"


def test_chart_marks_res_start_and_draws_both_averages():
    months = list(month_range(date(2017, 1, 1), date(2017, 12, 1)))
    counts = [2, 4, 6, 4, 2, 4, 1, 1, 2, 1, 1, 2]
    svg = series_svg("RES 1 <cla_start>", months, counts, date(2017, 7, 1), 3.6667, 1.3333)
    root = ET.fromstring(svg)  # well-formed, title escaped
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text == "RES 1 <cla_start>"
    points = root.find(f"{SVG}polyline[@class='series']").get("points").split()
    assert len(points) == 12
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[2] == min(ys)  # the highest count is drawn highest
    res = root.find(f"{SVG}line[@class='res-start']")
    assert res.get("x1") == points[6].split(",")[0]
    pre = root.find(f"{SVG}line[@class='pre-average']")
    post = root.find(f"{SVG}line[@class='post-average']")
    assert float(pre.get("y1")) < float(post.get("y1"))  # higher average sits higher
    assert pre.get("x2") == points[5].split(",")[0]
    assert post.get("x1") == points[6].split(",")[0]


def test_chart_without_res_start_has_no_marker():
    months = list(month_range(date(2019, 1, 1), date(2019, 3, 1)))
    svg = series_svg("C", months, [0, 0, 0], None, 0.0, None)
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}line[@class='res-start']") is None
    assert root.find(f"{SVG}line[@class='pre-average']") is not None
