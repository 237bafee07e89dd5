"""Korean text normalization for speech: numbers with counters, money, dates, units, Latin, Hanja.

Numbers are read Sino-Korean (일, 이, 삼) except before native counters such as 명, 개,
살 and 시, where 1-99 take native forms (한 명, 스무 살, 두 시). 대 and 번 are read by
meaning: counting vehicles or times is native (차량 세 대, 세 번 시도), a rank or a
designation is Sino (삼대 은행, 이 번 출구). Latin acronyms are spelled with Hangul letter
names (AI -> 에이아이, NAACP -> 엔에이에이씨피) unless they are said as words (UN -> 유엔);
a digit and one capital read the English way broadcasters use (3G -> 쓰리지, G8 -> 지에이트).
Numeric dates (2026-12-04, 2026. 12. 4., 12/4), quarters (3/4분기) and fractions (2/3 이상)
are read as such. Hanja headline abbreviations are expanded (美 -> 미국) and other Hanja
read by their Korean sound from a compact table of frequent news characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

from newstalk.speech.normalize_en import PAUSE_STEPS, apply_steps, is_pronounceable


def _words(text: str) -> tuple[str, ...]:
    """Split a whitespace-separated word list written as one string."""
    return tuple(text.split())


_SINO_DIGITS = "영일이삼사오육칠팔구"
_SMALL_UNITS = ((1000, "천"), (100, "백"), (10, "십"))
_BIG_UNITS = ((10**16, "경"), (10**12, "조"), (10**8, "억"), (10**4, "만"))
_KOREAN_UNIT_VALUES = {"십": 10, "백": 100, "천": 1000, "만": 10**4, "억": 10**8, "조": 10**12, "경": 10**16}


def _sino_below_10000(n: int) -> str:
    out = []
    for size, name in _SMALL_UNITS:
        head, n = divmod(n, size)
        if head:
            out.append(("" if head == 1 else _SINO_DIGITS[head]) + name)
    if n:
        out.append(_SINO_DIGITS[n])
    return "".join(out)


def sino(n: int) -> str:
    """Read an integer in Sino-Korean, spaced by 만-groups: 110000000 -> 일억 천백만."""
    if n == 0:
        return "영"
    if n < 0:
        return "마이너스 " + sino(-n)
    if n >= 10**20:
        return " ".join(_SINO_DIGITS[int(c)] for c in str(n))
    groups = []
    for size, name in _BIG_UNITS:
        head, n = divmod(n, size)
        if head:
            # 10000 is 만, not 일만; 억 and above keep 일 (일억).
            groups.append(("" if head == 1 and name == "만" else _sino_below_10000(head)) + name)
    if n:
        groups.append(_sino_below_10000(n))
    return " ".join(groups)


def sino_decimal(text: str) -> str:
    """Read a numeral with an optional decimal part: 2.5 -> 이 점 오; decimals are read digit by digit."""
    whole, _, frac = text.replace(",", "").partition(".")
    spoken = sino(int(whole or "0"))
    if frac:
        spoken += " 점 " + "".join(_SINO_DIGITS[int(c)] for c in frac)
    return spoken


_NATIVE_ONES = ("", "하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉")
_NATIVE_TENS = ("", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔")
# Before a counter the first four and 20 shorten: 한 명, 두 개, 세 살, 네 시, 스무 명.
_COUNTER_FORM = {"하나": "한", "둘": "두", "셋": "세", "넷": "네", "스물": "스무"}


def native(n: int, *, counter: bool = True) -> str:
    """Read 1-99 with native Korean numerals: 3 -> 세 (before a counter), 21 -> 스물한."""
    tens, ones = divmod(n, 10)
    ten_word, one_word = _NATIVE_TENS[tens], _NATIVE_ONES[ones]
    if counter:
        one_word = _COUNTER_FORM.get(one_word, one_word)
        if not one_word:
            ten_word = _COUNTER_FORM.get(ten_word, ten_word)
    return ten_word + one_word


# Counters read with native numerals for 1-99 (세 명, 다섯 개, 열 살, 두 시).
# Longer Sino counters that start the same way are listed in _SINO_COUNTERS and win by length.
NATIVE_COUNTERS = frozenset(
    _words(
        "명 개 살 시간 시 마리 번째 번 대 권 잔 가지 곳 채 척 그루 장 벌 켤레 군데 차례 달 건 편 통 병 "
        "구 송이 자루 세트 사람 쌍 줄 판 끼 알 봉지 상자 바퀴 발 방 걸음 주먹 개비 가구 척"
    )
)
# Counters and words that start like a native counter but take Sino numerals.
_SINO_COUNTERS = frozenset(
    _words(
        "개월 개국 개년 개사 개교 번지 번호 시즌 대회 명단 장관 권역 시대 달러 건물 편지 세기 살인 차전 대통령 "
        "년 월 일 주 주년 분 초 원 세 위 층 호 회 배 차 급 도 퍼센트 퍼센트포인트 라운드 페이지 킬로미터 미터 "
        "자회담 강 부 조 점 승 패 위안 유로 엔 파운드 센트 루피 마일 피트 인치 야드 톤 와트 킬로와트 메가와트 "
        "기가와트 킬로그램 그램 리터 헥타르 에이커 평 배럴 갤런 포인트 표 석 연승 연패 선 쿼터 이닝 홀 타수 골"
    )
)
_COUNTER_ALT = "|".join(sorted(NATIVE_COUNTERS | _SINO_COUNTERS, key=len, reverse=True))

# Latin units after a number -> Korean reading. "km/h" is a speed and is read 시속 ... 킬로미터.
UNITS = {
    "km/h": "킬로미터",
    "km²": "제곱킬로미터",
    "km": "킬로미터",
    "cm": "센티미터",
    "mm": "밀리미터",
    "m²": "제곱미터",
    "m³": "세제곱미터",
    "m": "미터",
    "kg": "킬로그램",
    "mg": "밀리그램",
    "g": "그램",
    "t": "톤",
    "kW": "킬로와트",
    "kw": "킬로와트",
    "MW": "메가와트",
    "GW": "기가와트",
    "kWh": "킬로와트시",
    "GB": "기가바이트",
    "MB": "메가바이트",
    "TB": "테라바이트",
    "mph": "마일",
    "ha": "헥타르",
    "ml": "밀리리터",
    "°C": "도",
    "℃": "도",
    "°F": "도",
    "°": "도",
    "%p": "퍼센트포인트",
    "%포인트": "퍼센트포인트",
    "%": "퍼센트",
}
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))

# Currency symbols before an amount -> Korean currency word.
CURRENCIES = {"US$": "달러", "$": "달러", "£": "파운드", "€": "유로", "¥": "엔", "₩": "원", "₹": "루피"}
_SCALES = {
    "k": 10**3,
    "thousand": 10**3,
    "m": 10**6,
    "mn": 10**6,
    "million": 10**6,
    "bn": 10**9,
    "b": 10**9,
    "billion": 10**9,
    "tn": 10**12,
    "trillion": 10**12,
}

LETTER_NAMES = dict(
    zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        _words(
            "에이 비 씨 디 이 에프 지 에이치 아이 제이 케이 엘 엠 엔 오 피 큐 알 에스 티 유 브이 더블유 엑스 와이 제트"
        ),
        strict=True,
    )
)
# Acronyms said as words in Korean broadcasts; everything else in capitals is spelled.
ACRONYM_WORDS = {
    "UN": "유엔",
    "NATO": "나토",
    "NASA": "나사",
    "UNESCO": "유네스코",
    "UNICEF": "유니세프",
    "ASEAN": "아세안",
    "APEC": "에이펙",
    "OPEC": "오펙",
    "FIFA": "피파",
    "UEFA": "유에파",
    "AIDS": "에이즈",
    "SARS": "사스",
    "MERS": "메르스",
    "COVID": "코비드",
    "KOSPI": "코스피",
    "KOSDAQ": "코스닥",
    "NASDAQ": "나스닥",
    "NYMEX": "나이멕스",
    "ASCI": "아스키",
    "ANSA": "안사",
    "GMAC": "지맥",
    "TVXQ": "동방신기",
    "KAIST": "카이스트",
    "POSCO": "포스코",
    "DIAL": "다이얼",
    "ICE": "아이스",
    "U.S.": "미국",
    "U.N.": "유엔",
    "U.K.": "영국",
    "E.U.": "이유",
    "AD": "서기",
    "BC": "기원전",
}
# Dateline cities written in capitals in wire copy ("HONG KONG (CNN) --").
DATELINES = {
    "HONG KONG": "홍콩",
    "NEW YORK": "뉴욕",
    "LOS ANGELES": "로스앤젤레스",
    "WASHINGTON": "워싱턴",
    "LONDON": "런던",
    "PARIS": "파리",
    "BERLIN": "베를린",
    "MOSCOW": "모스크바",
    "BEIJING": "베이징",
    "TOKYO": "도쿄",
    "SEOUL": "서울",
    "BAGHDAD": "바그다드",
    "JERUSALEM": "예루살렘",
    "GENEVA": "제네바",
}
# Latin words often left in Korean news, read in their usual Hangul spelling.
LATIN_WORDS = {
    "Google": "구글",
    "Apple": "애플",
    "Microsoft": "마이크로소프트",
    "Facebook": "페이스북",
    "Twitter": "트위터",
    "YouTube": "유튜브",
    "Samsung": "삼성",
    "Hyundai": "현대",
    "iPhone": "아이폰",
    "iPod": "아이팟",
    "Internet": "인터넷",
    "internet": "인터넷",
    "email": "이메일",
    "online": "온라인",
    "White": "화이트",
    "Deep": "딥",
    "Blue": "블루",
    "Center": "센터",
    "and": "앤드",
    "vs": "대",
}

# Headline abbreviations: a lone Hanja standing for a country, party or institution.
HANJA_HEADLINE = {
    "中": "중국",
    "美": "미국",
    "日": "일본",
    "北": "북한",
    "南": "남한",
    "韓": "한국",
    "英": "영국",
    "佛": "프랑스",
    "獨": "독일",
    "露": "러시아",
    "伊": "이탈리아",
    "印": "인도",
    "濠": "호주",
    "與": "여당",
    "野": "야당",
    "靑": "청와대",
    "檢": "검찰",
    "警": "경찰",
    "軍": "군",
    "法": "법원",
    "故": "고",
    "前": "전",
    "現": "현",
    "新": "신",
    "反": "반",
    "親": "친",
    "對": "대",
    "副": "부",
    "總": "총",
    "社": "사",
    "省": "성",
    "市": "시",
    "株": "주식",
}
# Korean sound of frequent news Hanja, as "character reading" pairs. Readings are the
# non-initial forms (理 리); a word-initial ㄹ/ㄴ is adjusted by the initial-sound rule below.
_HANJA_PAIRS = """
家가 價가 加가 可가 歌가 假가 街가 各각 角각 覺각 間간 看간 幹간 感감 減감 監감 甲갑 江강 强강 强강 講강 降강 康강
改개 個개 開개 客객 更갱 去거 巨거 擧거 建건 件건 健건 格격 擊격 見견 決결 結결 京경 經경 輕경 景경 敬경 競경 境경
警경 慶경 界계 計계 係계 季계 械계 系계 古고 故고 苦고 高고 考고 告고 固고 曲곡 穀곡 工공 公공 空공 共공 功공 攻공
供공 果과 科과 過과 課과 官관 關관 觀관 管관 館관 光광 廣광 交교 校교 敎교 橋교 九구 口구 區구 求구 究구 救구 構구
國국 局국 軍군 郡군 群군 君군 權권 券권 卷권 貴귀 歸귀 規규 均균 極극 劇극 近근 根근 金금 今금 禁금 急급 級급 給급
記기 期기 基기 氣기 技기 機기 器기 企기 旗기 起기 緊긴 吉길 南남 男남 內내 女녀 年년 念념 努노 勞로 農농 能능 多다
團단 單단 短단 斷단 達달 談담 答답 堂당 當당 黨당 大대 代대 對대 待대 隊대 德덕 道도 島도 都도 度도 圖도 導도 讀독
獨독 毒독 東동 同동 動동 冬동 洞동 頭두 得득 登등 等등 羅라 樂락 亂란 覽람 來래 兩량 量량 良량 旅려 力력 歷력 連련
聯련 列렬 領령 令령 例례 禮례 路로 老로 綠록 論론 料료 龍룡 流류 類류 六륙 陸륙 律률 利리 理리 里리 李리 林림 立립
馬마 萬만 滿만 末말 亡망 望망 每매 賣매 買매 面면 免면 名명 命명 明명 母모 模모 木목 目목 無무 務무 武무 貿무 文문
問문 門문 聞문 物물 美미 未미 米미 民민 密밀 朴박 博박 反반 半반 發발 方방 放방 防방 訪방 房방 倍배 配배 白백 百백
番번 罰벌 犯범 法법 變변 邊변 兵병 病병 保보 報보 步보 寶보 福복 復복 本본 奉봉 部부 父부 夫부 不부 府부 副부 富부
婦부 北북 分분 佛불 比비 非비 備비 費비 飛비 秘비 貧빈 氷빙 四사 士사 史사 使사 事사 社사 死사 思사 私사 師사 査사
寺사 産산 山산 算산 殺살 三삼 上상 相상 商상 狀상 賞상 想상 常상 色색 生생 西서 書서 序서 石석 席석 夕석 先선 選선
船선 線선 鮮선 善선 說설 設설 雪설 城성 性성 成성 省성 星성 聖성 聲성 誠성 世세 稅세 勢세 歲세 小소 少소 所소 消소
素소 速속 續속 屬속 孫손 損손 送송 水수 手수 數수 首수 受수 授수 修수 輸수 守수 收수 宿숙 純순 順순 術술 崇숭 習습
勝승 承승 市시 時시 示시 始시 試시 視시 施시 詩시 式식 食식 植식 識식 新신 身신 信신 神신 臣신 實실 失실 室실 心심
深심 十십 氏씨 兒아 亞아 惡악 安안 案안 眼안 暗암 壓압 愛애 野야 夜야 約약 藥약 弱약 洋양 陽양 養양 語어 漁어 億억
言언 業업 與여 餘여 如여 逆역 役역 域역 易역 驛역 硏연 然연 演연 煙연 研연 熱열 葉엽 英영 永영 營영 榮영 映영 藝예
豫예 五오 午오 誤오 屋옥 溫온 完완 王왕 外외 要요 曜요 浴욕 用용 勇용 容용 友우 右우 雨우 牛우 宇우 運운 雲운 雄웅
元원 原원 院원 願원 員원 園원 遠원 月월 位위 危위 委위 偉위 爲위 衛위 油유 有유 由유 遺유 育육 肉육 銀은 恩은 音음
飮음 邑읍 應응 意의 議의 醫의 義의 衣의 二이 以이 移이 耳이 益익 人인 因인 引인 認인 印인 一일 日일 任임 入입 子자
自자 字자 者자 資자 姉자 作작 昨작 場장 長장 章장 將장 張장 障장 才재 在재 財재 再재 材재 災재 爭쟁 低저 貯저 的적
赤적 敵적 積적 籍적 田전 全전 前전 戰전 電전 典전 展전 傳전 錢전 節절 絶절 店점 點점 接접 正정 定정 政정 情정 精정
停정 庭정 丁정 整정 制제 第제 題제 祭제 製제 除제 際제 提제 濟제 帝제 弟제 朝조 祖조 助조 調조 造조 組조 條조 族족
足족 存존 卒졸 宗종 種종 終종 從종 左좌 罪죄 主주 住주 注주 週주 州주 晝주 株주 中중 重중 衆중 增증 證증 地지 知지
止지 支지 指지 志지 持지 紙지 直직 職직 織직 進진 眞진 陣진 質질 集집 執집 次차 差차 着착 參참 唱창 窓창 創창 冊책
責책 處처 妻처 千천 天천 川천 鐵철 靑청 淸청 聽청 廳청 體체 初초 草초 招초 寸촌 村촌 總총 銃총 最최 秋추 推추 祝축
築축 春춘 出출 充충 忠충 蟲충 取취 就취 側측 測측 治치 致치 置치 齒치 親친 七칠 針침 快쾌 打타 他타 炭탄 脫탈 探탐
太태 態태 宅택 土토 討토 通통 統통 退퇴 投투 特특 波파 派파 判판 八팔 敗패 便편 平평 評평 閉폐 布포 暴폭 表표 品품
風풍 豊풍 皮피 被피 必필 筆필 下하 夏하 河하 學학 韓한 漢한 寒한 限한 合합 港항 航항 海해 害해 解해 行행 幸행 向향
鄕향 香향 虛허 許허 革혁 現현 賢현 血혈 協협 兄형 形형 刑형 惠혜 戶호 號호 湖호 護호 好호 婚혼 火화 花화 話화 和화
畵화 化화 貨화 華화 確확 患환 環환 活활 黃황 皇황 會회 回회 效효 孝효 後후 候후 訓훈 休휴 凶흉 黑흑 興흥 希희 喜희
疆강 維유 吾오 爾이 種종 最최 古고 馬마 核핵 彈탄 艦함 島도 首수 腦뇌 級급 總총 裁재 尹윤 朴박 崔최 鄭정 姜강 趙조
"""
HANJA_READINGS: dict[str, str] = {pair[0]: pair[1] for pair in _HANJA_PAIRS.split()}

_CHO_RIEUL, _CHO_NIEUN, _CHO_IEUNG = 5, 2, 11
# Vowels (jungseong index) before which word-initial ㄹ/ㄴ become ㅇ: ㅑ ㅕ ㅖ ㅛ ㅠ ㅣ.
_IEUNG_VOWELS = frozenset({2, 6, 7, 12, 17, 20})


def _initial_sound_rule(syllable: str) -> str:
    """Apply 두음법칙 to a word-initial syllable: 리 -> 이, 로 -> 노, 녀 -> 여."""
    code = ord(syllable) - 0xAC00
    if not 0 <= code < 11172:
        return syllable
    cho, rest = divmod(code, 588)
    jung = rest // 28
    if cho == _CHO_RIEUL:
        cho = _CHO_IEUNG if jung in _IEUNG_VOWELS else _CHO_NIEUN
    elif cho == _CHO_NIEUN and jung in _IEUNG_VOWELS:
        cho = _CHO_IEUNG
    return chr(0xAC00 + cho * 588 + rest)


def read_hanja(run: str, *, alone: bool) -> str:
    """Read a run of Hanja: a lone headline abbreviation expands (美 -> 미국), otherwise sound by sound."""
    if alone and len(run) == 1 and run in HANJA_HEADLINE:
        return HANJA_HEADLINE[run]
    sounds = [HANJA_READINGS.get(c, c) for c in run]
    if sounds and alone:
        sounds[0] = _initial_sound_rule(sounds[0])
    return "".join(sounds)


_HANJA = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_HANGUL = r"[\uac00-\ud7a3]"

# A Korean numeral: digits (commas, decimals) optionally chained with 조/억/만/천/백 units:
# "12조3천억", "1억1천만", "3,500", "2.5".
_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
# A further digit group may only follow a unit character, so "1111" has exactly one parse
# (a repeated optional-unit group would backtrack exponentially on long digit runs).
_KUNIT = r"(?:[천백십]?[경조억만]|[천백십])"
_KNUM = r"(?:" + _DIGITS + r")" + _KUNIT + r"?(?:(?<=[십백천만억조경])(?:" + _DIGITS + r")" + _KUNIT + r"?)*"


def _knum_value(text: str) -> tuple[int | None, str]:
    """Value of a Korean numeral, or None with a plain reading when it is not a whole number."""
    if not re.search(r"[십백천만억조경]", text):
        plain = text.replace(",", "")
        if "." in plain:
            return None, sino_decimal(plain)
        return int(plain), ""
    # Fractions keep "12.3조" exact, where floats would give 12299999999999.998.
    total, pending = Fraction(0), Fraction(0)
    for num, small, big in re.findall(r"([\d,.]+)(천|백|십)?(경|조|억|만)?", text):
        value = Fraction(num.replace(",", "")) * (_KOREAN_UNIT_VALUES[small] if small else 1)
        pending += value
        if big:
            total += pending * _KOREAN_UNIT_VALUES[big]
            pending = Fraction(0)
    total += pending
    if total.denominator != 1:
        return None, sino_decimal(f"{float(total):f}".rstrip("0"))
    return int(total), ""


def read_number(text: str, counter: str = "", *, about: bool = False, sino_reading: bool = False) -> str:
    """Read a Korean numeral in the form its counter wants: (3, 명) -> 세, (3, 원) -> 삼, (6, 월) -> 유."""
    value, plain = _knum_value(text)
    if value is None:
        return plain
    if counter == "월" and value in (6, 10):
        return {6: "유", 10: "시"}[value]
    if counter == "번째" and value == 1:
        return "첫"
    # 24-hour clock times read Sino (십사 시); decades of age read Sino (이십 대).
    sino_exception = sino_reading or (counter == "시" and value > 12) or (counter == "대" and value % 10 == 0)
    if (
        counter in NATIVE_COUNTERS
        and 1 <= value <= 99
        and "," not in text
        and not about
        and not sino_exception
    ):
        return native(value)
    return sino(value)


# Things counted with 대 (vehicles, machines): "차량 3대", "3대의 트럭" count, read native.
_DAE_COUNTED = _words(
    "차량 차 자동차 승용차 전기차 버스 트럭 택시 오토바이 자전거 열차 기차 전동차 비행기 항공기 여객기 "
    "전투기 폭격기 헬기 헬리콥터 드론 탱크 장갑차 기계 컴퓨터 노트북 서버 휴대전화 휴대폰 스마트폰 "
    "카메라 피아노 텔레비전 냉장고 세탁기 에어컨 로봇 장비 차들"
)
# Words after "N대" or "N번" that mean the number counts: "3대 가운데", "3번 이상".
_COUNT_WORDS = _words("가운데 중 중에 이상 이하 정도 가량 쯤 씩 뿐 만에 남짓 넘게 안팎 내외 모두 더")
# Nouns after "N번" that make it a designation read Sino: "2번 출구", "1번 타자".
_BEON_NAMED = _words(
    "출구 국도 고속도로 도로 버스 노선 타자 타석 선수 게이트 홀 트랙 레인 채널 좌석 문항 조항 항 확진자 "
    "환자 승강장 플랫폼 등번호 번호 투표 후보 카드 국번 마을버스 방 트랙 창구"
)
_PARTICLE_END = re.compile(
    r"(?:이|가|은|는|을|를|의|에|에서|도|와|과|로|으로|만|씩|까지|부터|나|이나|쯤|뿐|밖에)?(?![가-힣])"
)


def _by_meaning(counter: str, before: str, after: str) -> bool:
    """True when 대 or 번 after a number is a rank or designation (Sino) rather than a count."""
    prev_word = before.split()[-1] if before.split() else ""
    if counter == "대":
        if any(prev_word.startswith(w) for w in _DAE_COUNTED):
            return False
        if not after[:1].isspace():
            # "3대가", "3대의 트럭", "차량 3대." count; "4대강" is a rank.
            return _PARTICLE_END.match(after) is None
        next_word = after.split()[0] if after.split() else ""
        # "3대 은행", "5대 강국": the N biggest, unless the next word is counted ("3대 차량").
        return not any(next_word.startswith(w) for w in _DAE_COUNTED + _COUNT_WORDS)
    if counter == "번":
        if prev_word.endswith("제") or prev_word in ("등번호", "번호"):
            return True
        next_word = after.split()[0] if after.split() else ""
        return any(next_word.startswith(w) for w in _BEON_NAMED)
    return False


def _with_counter(number: str, counter: str, about: str, *, ranked: bool = False) -> str:
    spoken = read_number(number, counter, about=bool(about), sino_reading=ranked)
    if counter == "월" and spoken in {"유", "시"}:
        return spoken + "월"
    if ranked and counter == "대":
        return f"{spoken}{about}{counter}"  # 삼대 은행: the rank is one word
    return f"{spoken}{about} {counter}".rstrip()


def _number_counter(m: re.Match[str]) -> str:
    first, first_counter, second = m.group("a"), m.group("ac"), m.group("b")
    about, counter = m.group("about") or "", m.group("c") or m.group("c2") or ""
    if second is None and counter and first_counter:
        # A unit and then a counter word: "3.5% 포인트" is 삼 점 오 퍼센트포인트, not 포인트 alone.
        counter = ("" if UNITS.get(first_counter) == "퍼센트" and counter == "포인트" else " ") + counter
        counter = UNITS[first_counter] + counter
        first_counter = None
    if second is None and not counter:
        counter = first_counter or ""
    if counter in UNITS:
        counter = UNITS[counter]
    if first_counter in UNITS:
        first_counter = UNITS[first_counter]
    ranked = counter in ("대", "번") and _by_meaning(counter, m.string[: m.start()], m.string[m.end() :])
    if second is None:
        return _with_counter(first, counter, about, ranked=ranked)
    return f"{_with_counter(first, first_counter or counter, '')}에서 {_with_counter(second, counter, about)}"


def _money(m: re.Match[str]) -> str:
    currency = CURRENCIES[m.group("cur")]
    amount, scale = m.group("n").replace(",", ""), m.group("scale")
    if scale:
        # $2.5bn is 25억 달러 in Korean: scale exactly, then read with 만/억/조 groups.
        whole, _, frac = amount.partition(".")
        factor = _SCALES[scale.lower()]
        value = int(whole) * factor + (int(frac) * factor // 10 ** len(frac) if frac else 0)
        return f"{sino(value)} {currency}"
    return f"{sino_decimal(amount)} {currency}"


def _time(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    hour_word = native(hour) if 1 <= hour <= 12 else sino(hour)
    return f"{hour_word} 시" + (f" {sino(minute)} 분" if minute else "")


def _slash(m: re.Match[str]) -> str:
    """N/M: a fraction (2/3 이상 -> 삼분의 이 이상) when it cannot be a date or reads as an amount, else month/day."""
    top, bottom = int(m.group(1)), int(m.group(2))
    after = m.string[m.end() :]
    is_date = 1 <= top <= 12 and 1 <= bottom <= 31
    amount = top < bottom and re.match(r"\s?(?:" + "|".join(_FRACTION_CUES) + ")", after)
    if is_date and not amount:
        return _date_words(0, top, bottom)
    return f"{sino(bottom)}분의 {sino(top)}"


_FRACTION_CUES = _words("이상 이하 가량 정도 수준 쯤 가 을 를 의 로 만 씩 와 과 에 해당 넘")


def _date_words(yr: int, month: int, day: int) -> str:
    parts = [f"{sino(yr)} 년"] if yr else []
    parts.append({6: "유월", 10: "시월"}.get(month, f"{sino(month)} 월"))
    parts.append(f"{sino(day)} 일")
    return " ".join(parts)


def _date(m: re.Match[str]) -> str:
    yr, month, day = (int(g) if g else 0 for g in m.group("y", "m", "d"))
    return _date_words(yr, month, day)


_ENGLISH_NUMBERS = _words(
    "제로 원 투 쓰리 포 파이브 식스 세븐 에이트 나인 텐 일레븐 트웰브 서틴 포틴 피프틴 식스틴 세븐틴 "
    "에이틴 나인틴 트웬티"
)


def _latin_digit(m: re.Match[str]) -> str:
    """3G -> 쓰리지, G8 -> 지에이트, A4 -> 에이포: a digit and a capital are read the English way."""
    if m.group("n1"):
        return _ENGLISH_NUMBERS[int(m.group("n1"))] + LETTER_NAMES[m.group("l1")]
    return LETTER_NAMES[m.group("l2")] + _ENGLISH_NUMBERS[int(m.group("n2"))]


def _said_as_word(word: str) -> bool:
    """A capitals word is said as a word in Korean only if it looks like one (BAGHDAD, not NAACP)."""
    if not is_pronounceable(word) or re.search(r"AA|II|UU", word):
        return False
    coda = re.search(r"[^AEIOUY]+$", word)
    return coda is None or len(coda.group()) < 2 or coda.group() in _CODAS


_CODAS = frozenset(_words("ND NG NT NK RD RT RN RS RK RM LD LT LM ST SK SH TH CH CK GH GHT MP PS TS LL SS"))


def spell_latin(word: str) -> str:
    """Spell a Latin acronym with Hangul letter names: FTA -> 에프티에이."""
    return "".join(LETTER_NAMES.get(c, c) for c in word.upper())


def _latin(m: re.Match[str]) -> str:
    word = m.group(0)
    if word in ACRONYM_WORDS:
        return ACRONYM_WORDS[word]
    if word in LATIN_WORDS:
        return LATIN_WORDS[word]
    if re.fullmatch(r"(?:[A-Z]\.)+", word):
        return spell_latin(word.replace(".", ""))
    if len(word) >= 5 and word.isupper() and _said_as_word(word):
        return word.capitalize()  # a dateline or name in capitals ("BAGHDAD"), said as a word
    if word.isupper() or re.fullmatch(r"[A-Z]{2,}s", word):
        return spell_latin(word.rstrip("s")) + ("스" if word.endswith("s") and not word.isupper() else "")
    return word


def _url(m: re.Match[str]) -> str:
    url = m.group(0)
    if "/" in url.split("//", 1)[-1]:
        return ""  # a full link is noise when read aloud
    host = re.sub(r"^(?:#*https?://)?", "", url)
    parts = [LETTER_NAMES["W"] * 3 if p == "www" else p for p in host.split(".")]
    return " 닷 ".join(parts)


def _hanja(m: re.Match[str]) -> str:
    before = m.string[m.start() - 1] if m.start() else " "
    alone = not re.match(r"[\w]", before) or bool(re.match(_HANJA, before))
    return read_hanja(m.group(0), alone=alone)


# A counter or unit right after the number; after a space only when the counter is a whole
# word or takes a particle ("2 페이지", "3 명이"), so that "2 개혁" is not read as 두 개혁,
# and not when a number follows, so that the score "34 대 13" is not read as 서른네 대.
_COUNTER = r"(?:(?:" + _UNIT_ALT + r")(?![A-Za-z])|(?:" + _COUNTER_ALT + r"))"
_SPACED_COUNTER = (
    r"(?:(?:"
    + _UNIT_ALT
    + r")(?![A-Za-z])|(?:"
    + _COUNTER_ALT
    + r")(?![가-힣]|\s*\d)|(?:"
    + _COUNTER_ALT
    + r")(?=[이가은는을를의에도과와로만]))"
)
_NUMBER_WITH_COUNTER = re.compile(
    r"(?P<a>" + _KNUM + r")(?P<ac>" + _UNIT_ALT + r")?"
    # Range: a tilde always; a hyphen only when a counter or unit follows ("10-20%", not a score "6-4").
    r"(?:(?:\s?[~～∼〜]\s?|\s?[-–]\s?(?=(?:"
    + _KNUM
    + r")(?:여)?\s?"
    + _COUNTER
    + r"))(?P<b>"
    + _KNUM
    + r"))?"
    r"(?P<about>여)?(?:(?P<c>" + _COUNTER + r")|\s(?P<c2>" + _SPACED_COUNTER + r"))?"
)

Step = tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]

STEPS: list[Step] = [
    # Digit runs too long to be quantities (IDs, card numbers) are read digit by digit first,
    # which also keeps the number patterns below linear on pathological input.
    (re.compile(r"\d{16,}"), lambda m: " " + " ".join(_SINO_DIGITS[int(c)] for c in m.group(0)) + " "),
    # Emails and links: spoken domain, dropped path ("www.example.com" -> "더블유더블유더블유 닷 example 닷 com").
    (
        re.compile(r"\b([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)\b"),
        lambda m: m.group(1) + " 골뱅이 " + m.group(2).replace(".", " 닷 "),
    ),
    (
        re.compile(r"#*https?://\S+|\bwww\.[\w.-]+(?:/\S*)?|\b[a-z][\w-]*\.(?:com|org|net|kr|co\.kr)\b\S*"),
        _url,
    ),
    # Glosses in parentheses after a word are dropped: "반도체(半導體)", "세계무역기구(WTO)",
    # "식품의약국(Food and Drug Administration, FDA)", also after a closing quote or one space.
    (re.compile(r"(?<=[\uac00-\ud7a3’”'\"])\s?\((?:" + _HANJA + r"|[\s·,])+\)"), ""),
    (re.compile(r"(?<=[\uac00-\ud7a3’”'\"])\s?\([A-Za-z][A-Za-z .,&'-]*\)"), ""),
    # Age after a name: "카라지치(63)는" -> "카라지치 63세는".
    (re.compile(r"(?<=" + _HANGUL + r")\((\d{1,3})\)"), r" \1세"),
    # "3.5% 포인트" and "%P" are percentage points; "12월4일" needs a space to be read as two parts.
    (re.compile(r"%\s?[pP](?![A-Za-z])"), "%p"),
    (re.compile(r"(?<=\d월)(?=\d)"), " "),
    # A digit and one capital, said in English: "3G" -> "쓰리지", "G8" -> "지에이트", "G20" -> "지트웬티".
    (
        re.compile(
            r"(?<![A-Za-z0-9.,])(?:(?P<n1>1\d|20|\d)(?P<l1>[A-Z])|(?P<l2>[A-Z])(?P<n2>1\d|20|\d))(?![A-Za-z0-9])"
        ),
        _latin_digit,
    ),
    # Money with a symbol: "$2.5bn" -> "이십오억 달러", "US$ 40" -> "사십 달러".
    (
        re.compile(
            r"(?P<cur>US\$|[$£€¥₩₹])\s?(?P<n>"
            + _DIGITS
            + r")(?:\s?(?P<scale>(?i:thousand|million|billion|trillion|mn|bn|tn|[kmb]))\b)?",
        ),
        _money,
    ),
    # "9/11" is the name of the 2001 attacks, said 구일일.
    (re.compile(r"(?<![\d/])9[/.]11(?![\d/])"), "구일일"),
    # Dates written with separators: "2026.11.26", "2026. 11. 26.", "2026-11-26", "11/26" (month/day).
    (
        re.compile(
            r"(?<![\d.])(?P<y>(?:19|20)\d\d)(?P<sep>[./-])\s?(?P<m>1[0-2]|0?[1-9])(?P=sep)\s?"
            r"(?P<d>3[01]|[12]\d|0?[1-9])(?![\d])\.?"
        ),
        _date,
    ),
    # Quarters written as fractions: "3/4분기" -> "삼사분기".
    (re.compile(r"(?<![\d/])([1-4])/4\s?분기"), lambda m: f"{sino(int(m.group(1)))}사분기"),
    # Year and month: "2006.02" -> "이천육 년 이 월".
    (
        re.compile(r"(?<![\d.])((?:19|20)\d\d)\.(0[1-9]|1[0-2])(?![\d.])"),
        lambda m: (
            f"{sino(int(m.group(1)))} 년 "
            + {6: "유월", 10: "시월"}.get(int(m.group(2)), f"{sino(int(m.group(2)))} 월")
        ),
    ),
    (re.compile(r"(?<![\d/.,])(\d{1,3})/(\d{1,3})(?![\d/])"), _slash),
    # Clock times: "14:05" -> "십사 시 오 분", "9:30" -> "아홉 시 삼십 분".
    (re.compile(r"\b([01]?\d|2[0-4]):([0-5]\d)\b"), _time),
    # Scores and other bare number pairs: "6-4" -> "육 대 사".
    # A counter or unit after the pair makes it a range instead ("10-20%", "3-5명").
    (
        re.compile(r"(?<![\dA-Za-z.,-])(\d{1,3})-(\d{1,3})(?![\dA-Za-z.,%-]|\s?(?:여\s?)?" + _COUNTER + ")"),
        lambda m: f"{sino(int(m.group(1)))} 대 {sino(int(m.group(2)))}",
    ),
    # Speed: "100km/h" -> "시속 백 킬로미터".
    (re.compile(r"(" + _DIGITS + r")\s?km/h"), lambda m: f"시속 {sino_decimal(m.group(1))} 킬로미터"),
    # A range with the counter on both ends: "21일-24일" -> "21일에서 24일", read by the rule below.
    (
        re.compile(r"(" + _KNUM + ")(" + _COUNTER + r")\s?[-–~～]\s?(?=(?:" + _KNUM + ")" + _COUNTER + ")"),
        r"\1\2에서 ",
    ),
    # Numbers with an optional range and counter or unit:
    # "3~5명" -> "세 명에서 다섯 명", "10-20%" -> "십 퍼센트에서 이십 퍼센트", "200여명" -> "이백여 명".
    (_NUMBER_WITH_COUNTER, _number_counter),
    # Any numeral left, read Sino-Korean.
    (re.compile(_DIGITS), lambda m: sino_decimal(m.group(0))),
    (re.compile(r"\b(?:" + "|".join(DATELINES) + r")\b"), lambda m: DATELINES[m.group(0)]),
    # Latin: known words, acronyms spelled with Hangul letter names, other words kept.
    (re.compile(r"(?:[A-Z]\.){2,}|\b[A-Z]\.|[A-Za-z]+"), _latin),
    # Hanja: headline abbreviations and sound readings.
    (re.compile(_HANJA + "+"), _hanja),
    # Symbols.
    (re.compile(r"\s*&\s*"), " 앤드 "),
    (re.compile(r"(?<=\S)\+(?=\S)"), " 플러스 "),
    (re.compile(r"[$€£¥₩₹¢#]"), ""),
    (re.compile(r"%"), " 퍼센트"),
    (re.compile(r"[~～∼〜]"), "에서 "),
    *PAUSE_STEPS,
]


def normalize_ko(text: str) -> str:
    """Rewrite Korean text so a TTS engine reads numbers, symbols, Latin and Hanja as Hangul."""
    return apply_steps(STEPS, text)
