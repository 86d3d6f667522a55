"""The words people read, in Chinese (the default) and English: one catalogue.

Every column header of a file people open (``col.<column>``), every code's label
(``<kind>.<code>``: reasons, statuses, rules, results, disposals, units, resources,
sectors, districts, …) and every sentence with figures in it (``text.<name>``, a
``str.format`` template) is one row of ``WORDS``: key, Chinese, English. Codes stay stable
identifiers; their labels stand beside them (``reason`` = ``OUTCOMPETED``, ``reason_label``
= 落选:价值低于所需要素的机会成本). A code without a label is shown as itself.
``tests/test_words.py`` fails when a column or code written by the sample run has no label
in either language, or when two columns share a header.
"""

from __future__ import annotations

import functools
from typing import Literal

LANGS = ("zh", "en")
Lang = Literal["zh", "en"]
DEFAULT_LANG: Lang = "zh"

# fmt: off
_ROWS: tuple[tuple[str, str, str], ...] = (
    # Columns of the result tables (allocations, resources, eligibility, placements).
    ("col.project_id", "项目编号", "project id"),
    ("col.name", "项目名称", "project name"),
    ("col.district", "所在区县", "district"),
    ("col.district_label", "区县名称", "district name"),
    ("col.sector", "行业代码", "sector code"),
    ("col.sector_label", "行业", "sector"),
    ("col.kind", "项目类型代码", "kind code"),
    ("col.kind_label", "项目类型", "kind"),
    ("col.status", "结果代码", "decision code"),
    ("col.status_label", "保障结果", "decision"),
    ("col.start_year", "开工年份", "start year"),
    ("col.value_wan_cny", "项目价值(万元)", "value (万元)"),
    ("col.site_id", "落位地块", "site"),
    ("col.land_source", "用地来源代码", "land source code"),
    ("col.land_source_label", "用地来源", "land source"),
    ("col.reason", "原因代码", "reason code"),
    ("col.reason_label", "原因", "reason"),
    ("col.reason_detail", "原因详情", "reason detail"),
    ("col.opportunity_cost_wan_cny", "所需要素机会成本(万元)", "opportunity cost (万元)"),
    ("col.explanation", "说明", "explanation"),
    ("col.resource", "要素代码", "resource code"),
    ("col.resource_label", "要素", "resource"),
    ("col.unit", "单位代码", "unit code"),
    ("col.unit_label", "单位", "unit"),
    ("col.year", "年份", "year"),
    ("col.scope", "范围代码", "scope code"),
    ("col.scope_label", "范围", "scope"),
    ("col.supply", "计划供给", "supply"),
    ("col.freed", "腾退释放", "freed"),
    ("col.purchased", "购买", "purchased"),
    ("col.used", "使用", "used"),
    ("col.carried_in", "上年结转", "carried in"),
    ("col.carried_out", "结转下年", "carried out"),
    ("col.slack", "剩余", "slack"),
    ("col.dual_fixed_int_wan_cny_per_unit", "固定整数对偶价(万元/单位)", "fixed-integer dual (万元/unit)"),
    ("col.dual_lp_wan_cny_per_unit", "线性松弛对偶价(万元/单位)", "LP dual (万元/unit)"),
    ("col.mip_marginal_wan_cny_per_unit", "边际价值(万元/单位)", "marginal value (万元/unit)"),
    ("col.mip_marginal_lo", "边际价值下限(万元/单位)", "marginal value low (万元/unit)"),
    ("col.mip_marginal_hi", "边际价值上限(万元/单位)", "marginal value high (万元/unit)"),
    ("col.marginal_step", "边际测算步长", "marginal step"),
    ("col.marginal_note", "边际价值说明", "marginal value note"),
    ("col.rule", "规则代码", "rule code"),
    ("col.rule_label", "规则", "rule"),
    ("col.figure", "数值", "figure"),
    ("col.comparator", "要求", "requirement"),
    ("col.threshold", "阈值", "threshold"),
    ("col.result", "结论代码", "result code"),
    ("col.result_label", "结论", "result"),
    ("col.land_mu", "用地面积(亩)", "land (mu)"),
    ("col.site_area_mu", "地块面积(亩)", "site area (mu)"),
    ("col.source", "地块来源代码", "site source code"),
    ("col.source_label", "地块来源", "site source"),
    ("col.available_year", "可供年份", "available year"),
    ("col.acquisition_cost_wan_cny", "收储成本(万元)", "acquisition cost (万元)"),
    # Columns of the land bureau's files (reuse list, findings, totals, grades, warnings).
    ("col.parcel_id", "宗地编号", "parcel id"),
    ("col.unit_id", "不动产单元号", "real-estate unit id"),
    ("col.park", "园区", "park"),
    ("col.area_mu", "面积(亩)", "area (mu)"),
    ("col.finding_codes", "认定规则代码", "finding codes"),
    ("col.finding_codes_label", "认定规则", "findings"),
    ("col.idle_days", "闲置天数", "idle days"),
    ("col.fee_wan_cny", "闲置费(万元)", "idle-land fee (万元)"),
    ("col.recoverable", "可无偿收回", "recoverable without compensation"),
    ("col.class", "亩均评价等级", "per-mu class"),
    ("col.disposal", "处置建议代码", "disposal code"),
    ("col.disposal_label", "处置建议", "disposal"),
    ("col.as_of", "数据截止日期", "data as of"),
    ("col.note", "备注", "note"),
    ("col.firm_id", "企业代码", "firm id"),
    ("col.land_user", "土地使用权人", "land user"),
    ("col.parcels_flagged", "认定宗地数", "parcels flagged"),
    ("col.idle_area_mu", "闲置面积(亩)", "idle area (mu)"),
    ("col.low_efficiency_area_mu", "低效面积(亩)", "low-efficiency area (mu)"),
    ("col.unsupplied_area_mu", "批而未供面积(亩)", "approved but unsupplied area (mu)"),
    ("col.reusable_area_mu", "可再利用面积(亩)", "reusable area (mu)"),
    ("col.fees_due_wan_cny", "应缴闲置费(万元)", "idle-land fees due (万元)"),
    ("col.quota_earned_mu", "增存挂钩新增指标(亩)", "quota earned (mu)"),
    ("col.sites", "再利用地块数", "reuse sites"),
    ("col.tax_per_mu", "亩均税收(万元/亩)", "tax per mu (万元/mu)"),
    ("col.value_added_per_mu", "亩均增加值(万元/亩)", "value added per mu (万元/mu)"),
    ("col.value_added_per_tce", "单位能耗增加值(万元/吨标准煤)", "value added per tce (万元/tce)"),
    ("col.value_added_per_pollutant", "单位排放增加值(万元/吨)", "value added per t of pollutant (万元/t)"),
    ("col.labour_productivity", "全员劳动生产率(万元/人)", "labour productivity (万元/person)"),
    ("col.rd_share", "研发经费占比", "R&D share"),
    ("col.score", "综合得分", "score"),
    ("col.rank_share", "排名百分位", "rank share"),
    ("col.not_graded_because", "未评价原因", "not graded because"),
    ("col.file", "文件", "file"),
    ("col.row", "行", "row"),
    ("col.field", "字段", "field"),
    ("col.value", "值", "value"),
    ("col.problem", "问题", "problem"),
    # Decisions, reasons and land sources of projects.
    ("status.approved", "保障", "approved"),
    ("status.rejected", "未入选", "rejected"),
    ("status.ineligible", "不符合条件", "ineligible"),
    ("reason.APPROVED", "入选：价值高于所需要素的机会成本", "approved: value above the opportunity cost of its demand"),
    ("reason.LOCKED_IN", "入选：情景指定保障", "approved: locked in by the scenario"),
    ("reason.LOCKED_OUT", "落选：情景指定不保障", "rejected: locked out by the scenario"),
    ("reason.REQUIRES_UNMET", "落选：所依赖的项目未入选", "rejected: a project it requires is not approved"),
    ("reason.EXCLUDED_BY", "落选：与已入选项目互斥", "rejected: excluded by an approved project"),
    ("reason.OUTCOMPETED", "落选：价值低于所需要素的机会成本", "rejected: value below the opportunity cost of its demand"),
    ("reason.LEFT_OUT_BY_FIT", "落选：要素组合容纳不下", "rejected: its demand does not fit beside a better set"),
    ("reason.NOT_OFFERED", "未参与：申报年份不在规划期内", "not offered: its years are outside the horizon"),
    ("kind.new", "新建", "new"),
    ("kind.expansion", "扩建", "expansion"),
    ("kind.tech_upgrade", "技术改造", "technical upgrade"),
    ("kind.infrastructure", "基础设施", "infrastructure"),
    ("land_source.reuse", "盘活再利用地块", "reuse site"),
    ("land_source.existing_parcel", "企业自有存量用地", "own existing parcel"),
    ("land_source.new_quota", "新增建设用地指标", "new land quota"),
    ("land_source.none", "不新增用地", "no land"),
    # Project rules (eligibility) and land rules (findings); INELIGIBLE_<RULE> is built.
    ("rule.BELOW_INTENSITY_FLOOR", "投资强度低于控制标准", "investment intensity below the floor"),
    ("rule.BELOW_TAX_FLOOR", "亩均税收低于控制标准", "tax per mu below the floor"),
    ("rule.BELOW_OUTPUT_FLOOR", "亩均产出低于控制标准", "output per mu below the floor"),
    ("rule.BELOW_PLOT_RATIO_FLOOR", "容积率低于控制标准", "plot ratio below the floor"),
    ("rule.BELOW_COVERAGE_FLOOR", "建筑系数低于控制标准", "building coverage below the floor"),
    ("rule.ABOVE_OFFICE_SHARE_CAP", "行政办公及生活服务设施用地占比超标", "office and service share above the cap"),
    ("rule.ENERGY_LIMIT", "单位增加值能耗超标", "energy per 万元 of value added above the limit"),
    ("rule.FIRM_CLASS_D", "企业亩均评价为D类", "firm graded class D"),
    ("rule.LOW_BOND_COVERAGE", "专项债项目收益覆盖倍数不足", "bond project revenue coverage too low"),
    ("rule.BOND_NOT_ELIGIBLE", "不属于专项债券支持领域", "not in a field special bonds may fund"),
    ("rule.CHEMICAL_OUTSIDE_CHEM_PARK", "化工项目不在化工园区内", "chemical project outside a chemical park"),
    ("rule.IDLE_NOT_STARTED", "闲置：超过约定动工日期满一年未动工", "idle: not started a year after the agreed date"),
    ("rule.IDLE_HALTED", "闲置：已动工但中止开发满一年", "idle: work halted for a year"),
    ("rule.IDLE_GOV_CAUSE", "闲置：因政府原因或不可抗力造成", "idle: caused by the government or force majeure"),
    ("rule.UNSUPPLIED", "批而未供：批准后满两年未供应", "approved but not supplied within two years"),
    ("rule.LOW_PLOT_RATIO", "低效：容积率低于标准", "low efficiency: plot ratio below the standard"),
    ("rule.LOW_COVERAGE", "低效：建筑系数低于标准", "low efficiency: coverage below the standard"),
    ("rule.LOW_OUTPUT_PER_MU", "低效：亩均产出低于标准", "low efficiency: output per mu below the standard"),
    ("rule.LOW_TAX_PER_MU", "低效：亩均税收低于标准", "low efficiency: tax per mu below the standard"),
    ("rule.CLASS_D", "低效：使用企业亩均评价为D类", "low efficiency: the user is graded class D"),
    ("result.pass", "符合", "pass"),
    ("result.fail", "不符合", "fail"),
    ("result.must_buy", "须购买指标", "must buy quota"),
    ("result.not_checked", "未核查（缺少数据）", "not checked (no data)"),
    ("result.finding", "认定", "finding"),
    # The land bureau's codes.
    ("disposal.recover_free", "无偿收回", "recover without compensation"),
    ("disposal.collect_fee", "征缴闲置费", "collect the idle-land fee"),
    ("disposal.buy_back", "协议收购", "buy back by agreement"),
    ("disposal.swap", "置换", "swap"),
    ("disposal.extend", "延期动工", "extend the start date"),
    ("disposal.owner_upgrade", "自主改造", "upgrade by the owner"),
    ("disposal.supply", "依法供应", "supply as approved"),
    ("source.idle_recoverable", "闲置土地（可无偿收回）", "idle land, recoverable"),
    ("source.idle_negotiated", "闲置土地（协议收回）", "idle land, by agreement"),
    ("source.low_efficiency", "低效用地", "low-efficiency land"),
    ("source.unsupplied", "批而未供土地", "approved but unsupplied land"),
    # Resources, their units and scopes.
    ("resource.land_quota", "新增建设用地指标", "new land quota"),
    ("resource.energy", "能耗指标", "energy quota"),
    ("resource.coal", "煤炭消费指标", "coal quota"),
    ("resource.bond", "专项债券", "special bonds"),
    ("unit.mu", "亩", "mu"),
    ("unit.tce", "吨标准煤", "tce"),
    ("unit.t", "吨", "t"),
    ("unit.wan_cny", "万元", "万元"),
    ("unit.wan_cny_per_mu", "万元/亩", "万元/mu"),
    ("unit.tce_per_wan_cny", "吨标准煤/万元", "tce/万元"),
    ("unit.ratio", "比值", "ratio"),
    ("unit.share", "比例", "share"),
    ("unit.rank_share", "排名百分位", "rank share"),
    ("unit.flag", "是否", "yes/no"),
    ("unit.days", "天", "days"),
    ("scope.city", "全市统筹", "city"),
    ("scope.province_reserve", "省级预留", "province reserve"),
    # Districts of 枣庄 (the sample city) and the "6+3" sectors of Shandong.
    ("district.shizhong", "市中区", "Shizhong"),
    ("district.xuecheng", "薛城区", "Xuecheng"),
    ("district.yicheng", "峄城区", "Yicheng"),
    ("district.taierzhuang", "台儿庄区", "Taierzhuang"),
    ("district.shanting", "山亭区", "Shanting"),
    ("district.tengzhou", "滕州市", "Tengzhou"),
    ("district.hitech", "高新区", "Hi-tech zone"),
    ("district.total", "合计", "total"),
    ("sector.high_end_equipment", "高端装备", "high-end equipment"),
    ("sector.high_end_chemicals", "高端化工", "high-end chemicals"),
    ("sector.new_materials", "新材料", "new materials"),
    ("sector.new_energy", "新能源", "new energy"),
    ("sector.new_medicine", "新医药", "new medicine"),
    ("sector.new_it", "新一代信息技术", "new-generation IT"),
    ("sector.coal_power", "煤电", "coal power"),
    ("sector.building_materials", "建材", "building materials"),
    ("sector.textile", "纺织", "textiles"),
    ("sector.paper", "造纸", "paper"),
    ("sector.food", "食品", "food"),
    ("sector.agriculture_processing", "农副产品加工", "agricultural processing"),
    # Explanations of decisions (allocator.explain.records, .reasons), str.format templates.
    ("text.mip", "MIP 边际价值", "MIP marginal values"),
    ("text.lp", "线性松弛对偶价（未计算 MIP 边际价值）", "LP-relaxation duals (MIP marginal values not computed)"),
    ("text.draw", "{resource} {years} {scope}：{each} × {price} 万元/{unit} = {cost} 万元", "{resource} {years} {scope}: {each} × {price} 万元/{unit} = {cost} 万元"),
    ("text.per_year", "{amount} {unit}/年 × {years} 年", "{amount} {unit}/yr × {years} yr"),
    ("text.no_binding", "所需要素均不紧缺", "no binding resource"),
    ("text.per_unit", "每{unit}{resource} {per} 万元（使用 {total} {unit}）", "{per} 万元 per {unit} of {resource} ({total} {unit} drawn)"),
    ("text.approved", "入选：{start} 年开工，价值 {value} 万元；按{kind}计：{priced}", "approved: starts {start}, value {value} 万元; at {kind}: {priced}"),
    ("text.locked_in", "情景指定保障：{start} 年开工，价值 {value} 万元；按{kind}计：{priced}", "locked in: starts {start}, value {value} 万元; at {kind}: {priced}"),
    ("text.per_unit_list", "；紧缺要素的单位价值：{items}", "; value per unit of the binding resources: {items}"),
    ("text.outcompeted", "落选：价值 {value} 万元（{start} 年开工）低于所需要素的机会成本 {cost} 万元，按{kind}计：{priced}", "outcompeted: value {value} 万元 (start {start}) is below the opportunity cost of its demand, {cost} 万元 at {kind}: {priced}"),
    ("text.left_out", "落选（整数组合容纳不下）：价值 {value} 万元（{start} 年开工）不低于所需要素的机会成本 {cost} 万元（按{kind}计：{priced}），但{gives}；`allocator explain` 可精确测算纳入它的损失", "left out by the integer fit: value {value} 万元 (start {start}) is not below the opportunity cost of its demand, {cost} 万元 at {kind} ({priced}), but {gives}; `allocator explain` measures the exact loss of bringing it in"),
    ("text.gives_way", "它需要 {rows} 的余量，这些已被入选项目用满，须有项目让出", "it needs room in {rows}, which the approved projects fill: some would have to give way"),
    ("text.kept_out", "它所用的要素都不紧缺：是情景的某条规则（项目组、数量或落位）使它落选", "no row it draws on is priced: a rule of the scenario (a group, a count or a placement) keeps it out"),
    ("text.locked_out", "情景指定不保障", "locked out by the scenario"),
    ("text.requires", "依赖的项目 {projects} 未入选", "requires {projects}, which is not approved"),
    ("text.excluded_by", "与已入选的 {projects} 互斥", "excluded by {projects}, which is approved"),
    ("text.not_offered", "未参与：{detail}", "not offered: {detail}"),
    ("text.window", "申报年份 {window} 不在规划期 {horizon} 内", "window {window} outside the horizon {horizon}"),
    ("text.rule_broken", "{rule}：{figure} {unit}，要求 {comparator} {threshold}", "{rule}: {figure} {unit}, must be {comparator} {threshold}"),
    # Notes on the marginal value of one supply row (allocator.explain.records.note).
    ("text.not_binding", "不紧缺：剩余 {slack}", "not binding: {slack} left"),
    ("text.no_supply", "无供给", "no supply"),
    ("text.carried", "{amount} 未用完，结转下年", "{amount} unused, carried to the next year"),
    ("text.degenerate", "固定整数对偶价为 0 属退化：该行已用满，但其中的项目都无法调整", "fixed-integer dual 0 is degenerate: the row is full but nothing in it can move"),
    ("text.only_by_change", "多一个单位只有在改变开工项目组合时才有价值", "one more unit is worth something only by changing which projects start"),
    ("text.mip_not_computed", "未计算 MIP 边际价值（explain.mip_marginals: false）", "MIP marginal value not computed (explain.mip_marginals: false)"),
    # The sheets of result.xlsx (allocator.writers.workbook) and the items of 情景说明.
    ("sheet.projects", "项目保障清单", "Projects"),
    ("sheet.resources", "要素平衡表", "Resources"),
    ("sheet.land", "低效闲置用地清单", "Flagged land"),
    ("sheet.scenario", "情景说明", "Scenario"),
    ("sheet.item", "项目", "item"),
    ("sheet.value", "内容", "value"),
    ("sheet.name", "情景名称", "scenario"),
    ("sheet.description", "情景描述", "description"),
    ("sheet.horizon", "规划期", "horizon"),
    ("sheet.status", "求解状态", "solver status"),
    ("sheet.objective", "配置总价值(万元)", "value (万元)"),
    ("sheet.bound", "最优值上界(万元)", "bound (万元)"),
    ("sheet.gap", "最优性间隙", "optimality gap"),
    ("sheet.backend", "求解器", "solver"),
    ("sheet.seed", "随机种子", "seed"),
    ("sheet.time_limit", "求解时限(秒)", "time limit (s)"),
    ("sheet.gap_limit", "间隙目标", "gap limit"),
    ("sheet.count", "项目数：{status}", "projects {status}"),
    ("sheet.sha256", "数据指纹 SHA-256：{name}", "SHA-256 of {name}"),
    ("sheet.version", "软件版本：{name}", "version of {name}"),
    # The solver's status of a run (summary.json status).
    ("run.optimal", "最优（已证明）", "optimal (proved)"),
    ("run.feasible", "可行（达到时限，未证明最优）", "feasible (limit reached, not proved optimal)"),
    ("run.no_solution", "无解（达到时限，尚未找到方案）", "no solution (limit reached before one was found)"),
    ("run.infeasible", "不可行", "infeasible"),
    ("run.unbounded", "无界", "unbounded"),
    ("run.error", "出错", "error"),
    # Words inside cells.
    ("bool.True", "是", "yes"),
    ("bool.False", "否", "no"),
)
# fmt: on

WORDS: dict[str, dict[str, str]] = {key: {"zh": zh, "en": en} for key, zh, en in _ROWS}

# A column holding codes, and the kind of label its codes have: written with a
# ``<column>_label`` column right after it.
CODE_COLUMNS = {
    "district": "district",
    "sector": "sector",
    "kind": "kind",
    "status": "status",
    "land_source": "land_source",
    "reason": "reason",
    "resource": "resource",
    "unit": "unit",
    "scope": "scope",
    "rule": "rule",
    "result": "result",
    "finding_codes": "rule",
    "disposal": "disposal",
    "source": "source",
}


def word(key: str, lang: str, **figures: object) -> str:
    """The words of ``key`` in ``lang``, with ``figures`` put into its template."""
    text = WORDS[key][lang]
    return text.format(**figures) if figures else text


def lookup(kind: str, code: str, lang: str) -> str | None:
    """The label of one code (``reason``, ``OUTCOMPETED``), None when it has none;
    ``INELIGIBLE_<RULE>`` is built from its rule; several codes joined by ``;`` get their
    labels joined alike; a scope without a label of its own is a district's pool."""
    if ";" in code:
        found = [lookup(kind, c, lang) for c in code.split(";")]
        return None if None in found else ";".join(str(f) for f in found)
    if kind == "reason" and code.startswith("INELIGIBLE_"):
        rule = lookup("rule", code.removeprefix("INELIGIBLE_"), lang)
        return None if rule is None else ("不符合条件：" if lang == "zh" else "ineligible: ") + rule
    words = WORDS.get(f"{kind}.{code}")
    if words is None and kind == "scope":
        words = WORDS.get(f"district.{code}")
    return None if words is None else words[lang]


def label(kind: str, code: str, lang: str) -> str:
    """The label of one code (``lookup``); a code without a label is itself."""
    return lookup(kind, code, lang) or code


def header(column: str, lang: str) -> str:
    """The header of a column: its label, or ``<resource label>(<unit label>)`` for a
    resource amount column such as ``energy_tce``; a column without a label is itself."""
    found = WORDS.get(f"col.{column}")
    if found:
        return found[lang]
    for key, words in WORDS.items():
        if key.startswith("resource.") and column.startswith(key.removeprefix("resource.") + "_"):
            unit = column.removeprefix(key.removeprefix("resource.") + "_")
            if f"unit.{unit}" in WORDS:
                unit_words = WORDS[f"unit.{unit}"][lang]
                return (
                    f"{words[lang]}({unit_words})"
                    if lang == "zh"
                    else f"{words[lang]} ({unit_words})"
                )
    return column


@functools.cache
def headers_to_columns() -> dict[str, str]:
    """Every header in both languages, mapped to its column (resource columns included)."""
    out: dict[str, str] = {}
    resources = [k.removeprefix("resource.") for k in WORDS if k.startswith("resource.")]
    units = [k.removeprefix("unit.") for k in WORDS if k.startswith("unit.")]
    columns = [k.removeprefix("col.") for k in WORDS if k.startswith("col.")]
    columns += [f"{r}_{u}" for r in resources for u in units]
    for column in columns:
        for lang in LANGS:
            out.setdefault(header(column, lang), column)
    return out
