"""Synthetic identifiers and names, vectorized: USCC, resident IDs, names, full-width text.

Everything returns numpy object arrays of Python `str` so the writers can concatenate columns
cheaply. Nothing here touches the clock or the global random state: callers pass a Generator.
"""

from __future__ import annotations

import numpy as np

# GB 32100-2015: the 31 characters of the unified social credit code and the check weights.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array(
    [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64
)
_USCC_BYTES = np.frombuffer(USCC_ALPHABET.encode("ascii"), dtype=np.uint8)
_USCC_INDEX = {c: i for i, c in enumerate(USCC_ALPHABET)}

# GB 11643-1999: resident identity number check digit.
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = "10X98765432"

# 蓬江区 and the other Jiangmen districts/counties (for resident IDs of parties).
REGION_CODE = "440703"
ID_REGIONS = np.array(
    ["440703", "440703", "440703", "440704", "440705", "440781", "440783", "440784", "440785"],
    dtype=object,
)

_FULLWIDTH = str.maketrans(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ",
)

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = list(
    "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红娥玲建国志文辉宇浩然欣怡子涵梓轩雨彤嘉俊晓婷慧颖锦瑞泽"
)
TRADE_NAMES = [
    "宏达",
    "丰乐",
    "锦程",
    "德康",
    "侨乡",
    "粤海",
    "五邑",
    "新宝",
    "华盛",
    "美亿",
    "荷塘",
    "棠下",
    "杜阮",
    "蓬江",
    "白沙",
    "潮连",
    "恒信",
    "利丰",
    "嘉禾",
    "鸿运",
    "汇通",
    "金桥",
    "广裕",
    "兴业",
    "永安",
    "裕泰",
    "瑞丰",
    "福源",
    "信诚",
    "宝华",
]
INDUSTRIES = [
    "贸易",
    "电器",
    "五金",
    "医药",
    "食品",
    "餐饮",
    "物流",
    "建材",
    "服装",
    "农业科技",
    "科技",
    "电子",
    "家具",
    "印刷",
    "包装",
    "机械",
    "塑料",
    "照明",
    "卫浴",
    "摩托车配件",
]
SHOPS = [
    "商行",
    "餐馆",
    "便利店",
    "五金店",
    "美容店",
    "士多",
    "小食店",
    "服装店",
    "烟酒店",
    "水果店",
    "烧腊店",
    "理发店",
]
COOP_CROPS = ["凉瓜", "蔬菜", "水果", "花卉", "水产", "茶叶", "家禽", "大米"]
SUBDISTRICTS = np.array(
    ["环市街道", "潮连街道", "白沙街道", "北街街道", "堤东街道", "杜阮镇", "棠下镇", "荷塘镇"],
    dtype=object,
)
OFFICES = np.array(
    [
        "环市市场监督管理所",
        "潮连市场监督管理所",
        "白沙市场监督管理所",
        "北街市场监督管理所",
        "堤东市场监督管理所",
        "杜阮市场监督管理所",
        "棠下市场监督管理所",
        "荷塘市场监督管理所",
        "稽查大队",
    ],
    dtype=object,
)


def pick(rng: np.random.Generator, values: list[str] | np.ndarray, n: int) -> np.ndarray:
    """n random elements as an object array."""
    arr = np.asarray(values, dtype=object)
    return arr[rng.integers(0, len(arr), n)]


def mix(ids: np.ndarray, salt: int) -> np.ndarray:
    """A cheap deterministic integer hash (splitmix-like), so one id always maps the same way."""
    x = ids.astype(np.uint64) + np.uint64((salt * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def uscc_check_index(first17: np.ndarray) -> np.ndarray:
    """Check-character index (0..30) for rows of 17 alphabet indices (GB 32100-2015)."""
    c = 31 - (first17.astype(np.int64) @ USCC_WEIGHTS) % 31
    return np.where(c == 31, 0, c)


def uscc_from_parts(prefix: str, body: np.ndarray) -> np.ndarray:
    """Codes `prefix` (8 chars: 登记管理部门 + 机构类别 + region) + 9-char body + check.

    `body` holds alphabet indices, shape (n, 9).
    """
    n = body.shape[0]
    head = np.array([_USCC_INDEX[c] for c in prefix], dtype=np.int64)
    first17 = np.concatenate([np.broadcast_to(head, (n, 8)), body.astype(np.int64)], axis=1)
    full = np.concatenate([first17, uscc_check_index(first17)[:, None]], axis=1)
    return _indices_to_text(full)


def _indices_to_text(idx: np.ndarray) -> np.ndarray:
    chars = np.ascontiguousarray(_USCC_BYTES[idx])
    return chars.view(f"S{idx.shape[1]}").ravel().astype(f"U{idx.shape[1]}").astype(object)


def random_uscc(rng: np.random.Generator, prefixes: np.ndarray) -> np.ndarray:
    """Valid codes with random bodies; `prefixes` is one 8-char prefix per row."""
    out = np.empty(len(prefixes), dtype=object)
    for p in np.unique(prefixes):
        mask = prefixes == p
        out[mask] = uscc_from_parts(str(p), rng.integers(0, 31, (int(mask.sum()), 9)))
    return out


def uscc_for_ids(prefix: str, ids: np.ndarray, salt: int = 0) -> np.ndarray:
    """Distinct valid codes for distinct ids (< 31**9): a bijective scramble of the id."""
    space = 31**9
    scrambled = (ids.astype(np.int64) * 1_000_003 + 7_654_321 + salt * 97) % space
    digits = np.empty((len(ids), 9), dtype=np.int64)
    for i in range(8, -1, -1):
        digits[:, i] = scrambled % 31
        scrambled //= 31
    return uscc_from_parts(prefix, digits)


def uscc_valid(code: str) -> bool:
    """GB 32100-2015 check; used by tests and to build deliberately bad codes."""
    if len(code) != 18 or any(c not in _USCC_INDEX for c in code):
        return False
    idx = np.array([[_USCC_INDEX[c] for c in code[:17]]])
    return USCC_ALPHABET[int(uscc_check_index(idx)[0])] == code[17]


def break_uscc(codes: np.ndarray) -> np.ndarray:
    """The same codes with a wrong check character (the next one in the alphabet)."""
    out = np.empty(len(codes), dtype=object)
    for i, c in enumerate(codes):
        nxt = USCC_ALPHABET[(_USCC_INDEX[c[17]] + 1) % 31]
        out[i] = c[:17] + nxt
    return out


def resident_ids(rng: np.random.Generator, n: int, year: int, force_x: int = 0) -> np.ndarray:
    """Valid 18-digit resident identity numbers of adults (GB 11643), `force_x` ending in X."""
    if n == 0:
        return np.empty(0, dtype=object)
    region = ID_REGIONS[rng.integers(0, len(ID_REGIONS), n)]
    birth = np.datetime64(f"{year - 70}-01-01") + rng.integers(0, 365 * 50, n).astype(
        "timedelta64[D]"
    )
    birth_txt = np.char.replace(np.datetime_as_string(birth, unit="D"), "-", "").astype(object)
    seq = rng.integers(0, 1000, n)
    body = region + birth_txt + np.char.zfill(seq.astype(str), 3).astype(object)
    digits = np.array([[ord(ch) - 48 for ch in b] for b in body], dtype=np.int64).reshape(n, 17)
    check = (digits @ ID_WEIGHTS) % 11
    # Rows asked to end in X get the sequence number that yields check value 2 ("X").
    for i in range(min(force_x, n)):
        while ID_CHECK[int(check[i])] != "X":
            seq[i] = (seq[i] + 1) % 1000
            body[i] = body[i][:14] + f"{seq[i]:03d}"
            digits[i, 14:] = [int(c) for c in f"{seq[i]:03d}"]
            check[i] = int(digits[i] @ ID_WEIGHTS) % 11
    checks = np.array(list(ID_CHECK), dtype=object)[check]
    return body + checks


def resident_id_valid(code: str) -> bool:
    code = code.upper()
    if len(code) != 18 or not code[:17].isdigit():
        return False
    total = sum(int(c) * int(w) for c, w in zip(code[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11] == code[17]


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Two- and three-character Chinese names."""
    names = pick(rng, SURNAMES, n) + pick(rng, GIVEN, n)
    three = rng.random(n) < 0.6
    names[three] = names[three] + pick(rng, GIVEN, int(three.sum()))
    return names


def company_names(rng: np.random.Generator, n: int, industry: str | None = None) -> np.ndarray:
    """`江门市` + two trade-name words + industry + `有限公司`."""
    ind = np.full(n, industry, dtype=object) if industry else pick(rng, INDUSTRIES, n)
    return "江门市" + pick(rng, TRADE_NAMES, n) + pick(rng, TRADE_NAMES, n) + ind + "有限公司"


def names_for_ids(ids: np.ndarray, salt: int, suffixes: list[str]) -> np.ndarray:
    """A stable entity name per id, so repeat visits of one entity carry one name."""
    h = mix(ids, salt)
    t = np.asarray(TRADE_NAMES, dtype=object)
    s = np.asarray(suffixes, dtype=object)
    a = t[(h % np.uint64(len(t))).astype(np.int64)]
    b = t[((h >> np.uint64(16)) % np.uint64(len(t))).astype(np.int64)]
    c = s[((h >> np.uint64(32)) % np.uint64(len(s))).astype(np.int64)]
    return "江门市" + a + b + c


def fullwidth(values: np.ndarray) -> np.ndarray:
    """ASCII digits and Latin letters as their full-width forms (U+FF10…)."""
    return np.array([v.translate(_FULLWIDTH) for v in values], dtype=object)
