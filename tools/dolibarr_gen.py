#!/usr/bin/env python3
"""Dolibarr-like test data: a PostgreSQL database and a documents tree (stdlib only).

Written from the description in /work/shared/dolibarr-model.md, not from Dolibarr's files.

    dolibarr_gen.py db   [--scale N] [--seed S] [--drop-first]
    dolibarr_gen.py docs --out DIR [--scale N] [--seed S] [--force]
    dolibarr_gen.py both --docs DIR [--scale N] [--seed S] [--drop-first] [--force]

``db`` connects with the standard libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD,
PGDATABASE) by spawning ``psql`` (argv list, password only in the environment) and runs
as the database owner (no superuser).  The whole load is one transaction streamed into
psql's stdin: DDL, then COPY ... FROM STDIN blocks, then indexes, foreign keys, triggers,
views and comments (like a restore does).

Scale N = number of customer invoices.  Large tables: llx_societe 0.3N (wide rows),
llx_product 0.2N, llx_facture N, llx_facturedet 4N, llx_actioncomm 3N, llx_ecm_files
~1.5N (one row per indexed document of the docs tree for the same scale and seed),
llx_accounting_bookkeeping 5N.  Everything is deterministic for a given (scale, seed):
same rows, same refs, same docs bytes/names/modes/mtimes.

Sizes and timings (measured on the 2-core dev box, PostgreSQL 15 from pgfixture, fsync off):
  * default --scale 200: 308 tables, ~7.9k rows, ~35 MB database (mostly empty relations and
    indexes), 1.3-2.5 s; docs: ~400 files, ~35 MB, < 1 s.
  * --scale 20000: 377k rows, ~145 MB database, 6-7 s (the Python row generation dominates;
    ~3k invoices/s including indexes, foreign keys and ANALYZE).
  * --scale 200000: 3.74M rows, 1.06e9 bytes (1008 MiB) database, 44 s.
  * --scale 220000: 4.11M rows, 1.15e9 bytes (1096 MiB), 45-81 s depending on machine load
    => a database >= 1 GiB: --scale 220000 (BENCH_DB_SCALE).
  * docs --scale 2000: 3686 files, 349 MB, 2.4 s (~175 KB per invoice)
    => >= 2 GB of documents: --scale 12500 (~2.2 GB, ~15 s).
The database grows by ~5 KB per invoice (heap + indexes) over a ~35 MB base.

Python API: create_db(env, scale, seed, drop_first=False), create_docs(out, scale, seed),
documents(scale, seed) (the planned files, without writing), ecm_indexed(relpath), and the
table catalog: ALL_TABLES, TABLES (name -> Table), TMS_TABLES, TRIGGER_TABLES,
TMS_NO_TRIGGER_TABLES, NO_TMS_TABLES, LINE_TABLES, EXTRAFIELDS_TABLES, DICT_TABLES,
LINK_TABLES, HEADER_TABLES, VOLATILE_TABLES, LARGE_TABLES.
"""
import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import threading
import time

DATE0 = 1609459200  # 2021-01-01T00:00:00Z, start of the generated history
TMS_TYPE = "timestamp without time zone NOT NULL DEFAULT now()"
MONEY = "numeric(24,8)"


# =============================================================================== catalog

class Table:
    def __init__(self, name, category, cols, pk=("rowid",), serial="rowid", tms=True,
                 trigger=True, fks=(), uniques=(), comment=None):
        self.name = name
        self.category = category
        self.cols = list(cols)            # [(name, sql type)]
        self.pk = tuple(pk)
        self.serial = serial              # serial column name or None
        self.tms = tms
        self.trigger = bool(tms and trigger)
        self.fks = list(fks)              # [(col, ref_table, ref_col)]
        self.uniques = list(uniques)      # [tuple of cols]
        self.comment = comment

    def ddl(self):
        parts = []
        for c, t in self.cols:
            if c == self.serial:
                t = "serial"
            parts.append("  %s %s" % (c, t))
        if self.tms:
            parts.append("  tms " + TMS_TYPE)
        parts.append("  PRIMARY KEY (%s)" % ", ".join(self.pk))
        for i, u in enumerate(self.uniques):
            parts.append("  CONSTRAINT uk_%s_%d UNIQUE (%s)" % (self.name[4:], i, ", ".join(u)))
        return "CREATE TABLE %s (\n%s\n);\n" % (self.name, ",\n".join(parts))


TABLES = {}


def _add(t):
    assert t.name not in TABLES, t.name
    TABLES[t.name] = t
    return t


def _header(short, extra=(), soc=True, trigger=True, projet=True, comment=None):
    cols = [("rowid", "integer"), ("ref", "varchar(30) NOT NULL"), ("entity", "integer NOT NULL DEFAULT 1"),
            ("ref_ext", "varchar(255)")]
    fks = []
    if soc:
        cols.append(("fk_soc", "integer"))
        fks.append(("fk_soc", "llx_societe", "rowid"))
    if projet:
        cols.append(("fk_projet", "integer"))
        if short != "projet":
            fks.append(("fk_projet", "llx_projet", "rowid"))
    cols += [("fk_user_author", "integer"), ("fk_user_modif", "integer"),
             ("datec", "timestamp without time zone"), ("fk_statut", "smallint NOT NULL DEFAULT 0")]
    cols += list(extra)
    cols += [("total_ht", MONEY + " DEFAULT 0"), ("total_tva", MONEY + " DEFAULT 0"),
             ("total_ttc", MONEY + " DEFAULT 0"), ("note_private", "text"), ("note_public", "text"),
             ("model_pdf", "varchar(255)"), ("last_main_doc", "varchar(255)"),
             ("import_key", "varchar(14)")]
    return _add(Table("llx_" + short, "header", cols, trigger=trigger, fks=fks,
                      uniques=[("ref", "entity")], comment=comment))


def _line(short, parent):
    pcol = "fk_" + parent
    cols = [("rowid", "integer"), (pcol, "integer NOT NULL"), ("fk_parent_line", "integer"),
            ("fk_product", "integer"), ("label", "varchar(255)"), ("description", "text"),
            ("tva_tx", "numeric(7,4)"), ("qty", "real"), ("remise_percent", "real DEFAULT 0"),
            ("subprice", MONEY), ("total_ht", MONEY), ("total_tva", MONEY), ("total_ttc", MONEY),
            ("product_type", "integer DEFAULT 0"), ("date_start", "timestamp without time zone"),
            ("date_end", "timestamp without time zone"), ("rang", "integer DEFAULT 0"),
            ("special_code", "integer DEFAULT 0"), ("import_key", "varchar(14)")]
    return _add(Table("llx_" + short, "line", cols, tms=False,
                      fks=[(pcol, "llx_" + parent, "rowid"), ("fk_product", "llx_product", "rowid")]))


def _build_catalog():
    # ---- the big, specially shaped tables
    soc_cols = [("rowid", "integer"), ("nom", "varchar(128)"), ("name_alias", "varchar(128)"),
                ("entity", "integer NOT NULL DEFAULT 1"), ("ref_ext", "varchar(255)"),
                ("statut", "smallint DEFAULT 0"), ("parent", "integer"), ("status", "smallint DEFAULT 1"),
                ("code_client", "varchar(24)"), ("code_fournisseur", "varchar(24)"),
                ("code_compta", "varchar(24)"), ("code_compta_fournisseur", "varchar(24)"),
                ("address", "varchar(255)"), ("zip", "varchar(25)"), ("town", "varchar(50)"),
                ("fk_departement", "integer DEFAULT 0"), ("fk_pays", "integer DEFAULT 0"),
                ("phone", "varchar(20)"), ("fax", "varchar(20)"), ("url", "varchar(255)"),
                ("email", "varchar(128)"), ("socialnetworks", "text"), ("fk_effectif", "integer DEFAULT 0"),
                ("fk_typent", "integer"), ("fk_forme_juridique", "integer DEFAULT 0"),
                ("fk_currency", "varchar(3)"), ("siren", "varchar(128)"), ("siret", "varchar(128)"),
                ("ape", "varchar(128)"), ("idprof4", "varchar(128)"), ("idprof5", "varchar(128)"),
                ("idprof6", "varchar(128)"), ("tva_intra", "varchar(20)"), ("capital", MONEY),
                ("fk_stcomm", "integer DEFAULT 0"), ("note_private", "text"), ("note_public", "text"),
                ("model_pdf", "varchar(255)"), ("last_main_doc", "varchar(255)"),
                ("prefix_comm", "varchar(5)"), ("client", "smallint DEFAULT 0"),
                ("fournisseur", "smallint DEFAULT 0"), ("fk_prospectlevel", "varchar(12)"),
                ("customer_bad", "smallint DEFAULT 0"), ("remise_client", "real DEFAULT 0"),
                ("mode_reglement", "smallint"), ("cond_reglement", "smallint"),
                ("tva_assuj", "smallint DEFAULT 1"), ("localtax1_assuj", "smallint DEFAULT 0"),
                ("localtax2_assuj", "smallint DEFAULT 0"), ("barcode", "varchar(180)"),
                ("price_level", "integer"), ("outstanding_limit", MONEY), ("default_lang", "varchar(6)"),
                ("logo", "varchar(255)"), ("canvas", "varchar(32)"),
                ("accountancy_code_sell", "varchar(32)"), ("accountancy_code_buy", "varchar(32)"),
                ("datec", "timestamp without time zone"), ("fk_user_creat", "integer"),
                ("fk_user_modif", "integer"), ("multicurrency_code", "varchar(3)"),
                ("import_key", "varchar(14)"), ("ip", "varchar(250)")]
    _add(Table("llx_societe", "header", soc_cols, uniques=[("nom", "entity"), ("code_client", "entity")],
               fks=[("fk_pays", "llx_c_country", "rowid"), ("fk_user_creat", "llx_user", "rowid")],
               comment="Third parties: customers, prospects and suppliers"))
    prod_cols = [("rowid", "integer"), ("ref", "varchar(128) NOT NULL"), ("entity", "integer NOT NULL DEFAULT 1"),
                 ("ref_ext", "varchar(128)"), ("datec", "timestamp without time zone"),
                 ("fk_parent", "integer DEFAULT 0"), ("label", "varchar(255) NOT NULL"),
                 ("description", "text"), ("note_public", "text"), ("note", "text"),
                 ("customcode", "varchar(32)"), ("fk_country", "integer"), ("price", MONEY + " DEFAULT 0"),
                 ("price_ttc", MONEY + " DEFAULT 0"), ("price_base_type", "varchar(3) DEFAULT 'HT'"),
                 ("tva_tx", "numeric(7,4)"), ("fk_user_author", "integer"), ("fk_user_modif", "integer"),
                 ("tosell", "smallint DEFAULT 1"), ("tobuy", "smallint DEFAULT 1"),
                 ("fk_product_type", "integer DEFAULT 0"), ("duration", "varchar(6)"),
                 ("stock", "real"), ("pmp", MONEY + " DEFAULT 0"), ("weight", "real"),
                 ("weight_units", "smallint"), ("barcode", "varchar(180)"),
                 ("accountancy_code_sell", "varchar(32)"), ("accountancy_code_buy", "varchar(32)"),
                 ("model_pdf", "varchar(255)"), ("import_key", "varchar(14)")]
    _add(Table("llx_product", "header", prod_cols, uniques=[("ref", "entity"), ("barcode", "entity")],
               fks=[("fk_country", "llx_c_country", "rowid")], comment="Products and services"))
    _add(Table("llx_user", "volatile", [
        ("rowid", "integer"), ("entity", "integer NOT NULL DEFAULT 1"), ("ref_employee", "varchar(50)"),
        ("login", "varchar(50) NOT NULL"), ("pass_crypted", "varchar(128)"), ("api_key", "varchar(128)"),
        ("gender", "varchar(10)"), ("civility", "varchar(6)"), ("lastname", "varchar(50)"),
        ("firstname", "varchar(50)"), ("email", "varchar(255)"), ("job", "varchar(128)"),
        ("admin", "smallint DEFAULT 0"), ("employee", "smallint DEFAULT 1"), ("fk_soc", "integer"),
        ("datec", "timestamp without time zone"), ("datelastlogin", "timestamp without time zone"),
        ("datepreviouslogin", "timestamp without time zone"), ("iplastlogin", "varchar(250)"),
        ("ippreviouslogin", "varchar(250)"), ("statut", "smallint DEFAULT 1"), ("photo", "varchar(255)"),
        ("lang", "varchar(6)"), ("import_key", "varchar(14)")], uniques=[("login", "entity")]))
    _add(Table("llx_actioncomm", "special", [
        ("id", "integer"), ("ref", "varchar(30) NOT NULL"), ("ref_ext", "varchar(255)"),
        ("entity", "integer NOT NULL DEFAULT 1"), ("datep", "timestamp without time zone"),
        ("datep2", "timestamp without time zone"), ("fk_action", "integer"), ("code", "varchar(50)"),
        ("datec", "timestamp without time zone"), ("fk_user_author", "integer"),
        ("fk_user_action", "integer"), ("fk_soc", "integer"), ("fk_contact", "integer"),
        ("fk_element", "integer"), ("elementtype", "varchar(255)"), ("label", "varchar(255) NOT NULL"),
        ("note", "text"), ("percent", "smallint DEFAULT 0"), ("fulldayevent", "smallint DEFAULT 0"),
        ("transparency", "integer"), ("priority", "smallint"), ("email_msgid", "varchar(255)"),
        ("email_from", "varchar(255)"), ("email_to", "varchar(255)"), ("import_key", "varchar(14)")],
        pk=("id",), serial="id",
        fks=[("fk_soc", "llx_societe", "rowid"), ("fk_user_author", "llx_user", "rowid")],
        comment="Agenda events, also the audit trail of business actions"))
    _add(Table("llx_ecm_files", "special", [
        ("rowid", "integer"), ("ref", "varchar(128)"), ("label", "varchar(128) NOT NULL"),
        ("share", "varchar(128)"), ("entity", "integer NOT NULL DEFAULT 1"),
        ("filepath", "varchar(255) NOT NULL"), ("filename", "varchar(255) NOT NULL"),
        ("src_object_type", "varchar(64)"), ("src_object_id", "integer"),
        ("fullpath_orig", "varchar(750)"), ("description", "text"), ("keywords", "varchar(750)"),
        ("cover", "text"), ("position", "integer"), ("gen_or_uploaded", "varchar(12)"),
        ("extraparams", "varchar(255)"), ("date_c", "timestamp without time zone"),
        ("fk_user_c", "integer"), ("fk_user_m", "integer"), ("acl", "text"),
        ("import_key", "varchar(14)")], uniques=[("filepath", "filename", "entity")]))
    _add(Table("llx_accounting_bookkeeping", "special", [
        ("rowid", "integer"), ("entity", "integer NOT NULL DEFAULT 1"), ("piece_num", "integer NOT NULL"),
        ("doc_date", "date NOT NULL"), ("doc_type", "varchar(30) NOT NULL"), ("doc_ref", "varchar(300) NOT NULL"),
        ("fk_doc", "integer NOT NULL"), ("fk_docdet", "integer NOT NULL"), ("thirdparty_code", "varchar(32)"),
        ("subledger_account", "varchar(32)"), ("subledger_label", "varchar(255)"),
        ("numero_compte", "varchar(32) NOT NULL"), ("label_compte", "varchar(255) NOT NULL"),
        ("label_operation", "varchar(255)"), ("debit", MONEY + " NOT NULL"), ("credit", MONEY + " NOT NULL"),
        ("montant", MONEY), ("sens", "varchar(1)"), ("multicurrency_amount", MONEY),
        ("fk_user_author", "integer NOT NULL"), ("date_creation", "timestamp without time zone"),
        ("code_journal", "varchar(32) NOT NULL"), ("journal_label", "varchar(255)"),
        ("date_validated", "timestamp without time zone"), ("date_export", "timestamp without time zone"),
        ("import_key", "varchar(14)")], trigger=False,
        comment="General ledger: written by the transfer to accounting"))
    _add(Table("llx_blockedlog", "special", [
        ("rowid", "integer"), ("entity", "integer NOT NULL DEFAULT 1"), ("date_creation", "timestamp without time zone"),
        ("action", "varchar(50)"), ("amounts", MONEY + " NOT NULL"), ("element", "varchar(50)"),
        ("fk_user", "integer"), ("user_fullname", "varchar(255)"), ("fk_object", "integer"),
        ("ref_object", "varchar(255)"), ("date_object", "timestamp without time zone"),
        ("signature", "varchar(100) NOT NULL"), ("signature_line", "varchar(100) NOT NULL"),
        ("object_data", "text"), ("object_version", "varchar(32) DEFAULT ''"),
        ("certified", "integer")], trigger=False,
        comment="Unalterable log (inalterability of accounting records)"))

    # ---- generic business headers (40 with societe and product)
    fac_extra = [("type", "smallint DEFAULT 0 NOT NULL"), ("datef", "date"), ("date_valid", "date"),
                 ("date_lim_reglement", "date"), ("paye", "smallint DEFAULT 0 NOT NULL"),
                 ("close_code", "varchar(16)"), ("fk_user_valid", "integer"), ("fk_account", "integer"),
                 ("fk_cond_reglement", "integer DEFAULT 1"), ("fk_mode_reglement", "integer"),
                 ("multicurrency_code", "varchar(3)"), ("multicurrency_tx", "numeric(24,8) DEFAULT 1")]
    _header("facture", fac_extra, comment="Customer invoices")
    _header("projet", [("title", "varchar(255)"), ("dateo", "date"), ("datee", "date"),
                       ("public", "integer"), ("budget_amount", MONEY)])
    for short, trig in [("propal", True), ("commande", True), ("contrat", True), ("expedition", True),
                        ("facture_fourn", True), ("commande_fournisseur", True),
                        ("supplier_proposal", True), ("fichinter", True), ("holiday", False),
                        ("categorie", False), ("ticket", False), ("product_lot", False),
                        ("expensereport", True), ("don", False), ("loan", True), ("reception", True),
                        ("mrp_mo", True), ("bom_bom", True), ("adherent", True),
                        ("projet_task", True), ("facture_rec", True), ("paiement", True),
                        ("paiementfourn", True), ("chargesociales", True), ("tva", True),
                        ("salary", True), ("asset", False), ("socpeople", True), ("entrepot", True),
                        ("delivery", True), ("knowledgemanagement_knowledgerecord", True),
                        ("recruitment_recruitmentjobposition", True),
                        ("recruitment_recruitmentcandidature", True), ("partnership", False),
                        ("hrm_evaluation", True), ("stocktransfer_stocktransfer", True),
                        ("inventory", True), ("prelevement_bons", True)]:
        extra = []
        if short == "facture_fourn":
            extra = [("ref_supplier", "varchar(255)"), ("datef", "date"), ("paye", "smallint DEFAULT 0")]
        elif short in ("propal", "commande"):
            extra = [("date_valid", "timestamp without time zone"), ("fk_user_valid", "integer")]
        elif short == "holiday":
            extra = [("fk_user", "integer"), ("date_debut", "date"), ("date_fin", "date"), ("fk_type", "integer")]
        _header(short, extra, trigger=trig,
                soc=short not in ("holiday", "categorie", "entrepot", "salary", "tva", "inventory",
                                  "hrm_evaluation", "knowledgemanagement_knowledgerecord"),
                projet=short not in ("categorie", "holiday", "product_lot", "entrepot", "tva"))

    # ---- line tables (30), no tms
    for short, parent in [("facturedet", "facture"), ("propaldet", "propal"), ("commandedet", "commande"),
                          ("facture_fourn_det", "facture_fourn"),
                          ("commande_fournisseurdet", "commande_fournisseur"),
                          ("supplier_proposaldet", "supplier_proposal"), ("contratdet", "contrat"),
                          ("expeditiondet", "expedition"), ("fichinterdet", "fichinter"),
                          ("expensereport_det", "expensereport"), ("facturedet_rec", "facture_rec"),
                          ("receptiondet_batch", "reception"), ("mrp_production", "mrp_mo"),
                          ("bom_bomline", "bom_bom"), ("deliverydet", "delivery"),
                          ("projet_task_time", "projet_task"), ("loan_schedule", "loan"),
                          ("paiement_det", "paiement"), ("don_det", "don"),
                          ("holiday_det", "holiday"), ("ticket_msg", "ticket"),
                          ("inventorydet", "inventory"), ("stocktransfer_stocktransferline", "stocktransfer_stocktransfer"),
                          ("prelevement_lignes", "prelevement_bons"), ("asset_depreciation", "asset"),
                          ("salary_det", "salary"), ("chargesociales_det", "chargesociales"),
                          ("partnership_det", "partnership"), ("socpeople_det", "socpeople"),
                          ("hrm_evaluationdet", "hrm_evaluation")]:
        _line(short, parent)

    # ---- 60 extrafields: tms, trigger on ~60 %
    ef_parents = ["facture", "societe", "product", "propal", "commande", "projet", "contrat", "expedition",
                  "facture_fourn", "commande_fournisseur", "supplier_proposal", "fichinter", "holiday",
                  "categorie", "ticket", "product_lot", "expensereport", "don", "loan", "reception",
                  "mrp_mo", "bom_bom", "adherent", "projet_task", "facture_rec", "paiement", "socpeople",
                  "entrepot", "user", "actioncomm", "facturedet", "propaldet", "commandedet",
                  "facture_fourn_det", "commande_fournisseurdet", "supplier_proposaldet", "contratdet",
                  "expeditiondet", "fichinterdet", "expensereport_det", "facturedet_rec", "bom_bomline",
                  "mrp_production", "asset", "salary", "chargesociales", "partnership", "delivery",
                  "knowledgemanagement_knowledgerecord", "recruitment_recruitmentjobposition",
                  "recruitment_recruitmentcandidature", "hrm_evaluation", "inventory", "bank_account",
                  "usergroup", "adherent_type", "societe_rib", "product_fournisseur_price",
                  "stocktransfer_stocktransfer", "resource"]
    for i, p in enumerate(ef_parents):
        cols = [("rowid", "integer"), ("fk_object", "integer NOT NULL"), ("import_key", "varchar(14)")]
        for k in range(i % 6):
            cols.append(("options_field%d" % (k + 1), ("varchar(255)", "integer", "date", "text",
                                                       MONEY, "smallint")[k]))
        fks = []
        if "llx_" + p in TABLES:
            fks = [("fk_object", "llx_" + p, "rowid" if p != "actioncomm" else "id")]
        _add(Table("llx_%s_extrafields" % p, "extrafields", cols, trigger=(i % 5 in (0, 1, 3)),
                   fks=fks, uniques=[("fk_object",)]))

    # ---- dictionaries (50): rowid, code, label, active, no tms
    _add(Table("llx_c_country", "dict", [("rowid", "integer"), ("code", "varchar(2) NOT NULL"),
                                         ("code_iso", "varchar(3)"), ("label", "varchar(128) NOT NULL"),
                                         ("eec", "smallint"), ("active", "smallint DEFAULT 1 NOT NULL"),
                                         ("favorite", "smallint DEFAULT 0 NOT NULL")],
               tms=False, uniques=[("code",), ("label",)]))
    _add(Table("llx_c_regions", "dict", [("rowid", "integer"), ("code_region", "integer NOT NULL"),
                                         ("fk_pays", "integer NOT NULL"), ("cheflieu", "varchar(50)"),
                                         ("tncc", "integer"), ("nom", "varchar(100)"),
                                         ("active", "smallint DEFAULT 1 NOT NULL")],
               tms=False, uniques=[("code_region",)], fks=[("fk_pays", "llx_c_country", "rowid")]))
    _add(Table("llx_c_departements", "dict", [("rowid", "integer"), ("code_departement", "varchar(6) NOT NULL"),
                                              ("fk_region", "integer"), ("cheflieu", "varchar(50)"),
                                              ("tncc", "integer"), ("ncc", "varchar(50)"), ("nom", "varchar(50)"),
                                              ("active", "smallint DEFAULT 1 NOT NULL")],
               tms=False, uniques=[("code_departement", "fk_region")],
               fks=[("fk_region", "llx_c_regions", "code_region")]))
    _add(Table("llx_c_tva", "dict", [("rowid", "integer"), ("fk_pays", "integer NOT NULL"), ("code", "varchar(10) DEFAULT ''"),
                                     ("taux", "double precision NOT NULL"), ("localtax1", "varchar(20) DEFAULT '0'"),
                                     ("localtax2", "varchar(20) DEFAULT '0'"), ("recuperableonly", "integer DEFAULT 0"),
                                     ("note", "varchar(128)"), ("active", "smallint DEFAULT 1 NOT NULL"),
                                     ("accountancy_code_sell", "varchar(32)"), ("accountancy_code_buy", "varchar(32)")],
               tms=False, uniques=[("fk_pays", "code", "taux", "recuperableonly")],
               fks=[("fk_pays", "llx_c_country", "rowid")]))
    _add(Table("llx_c_currencies", "dict", [("rowid", "integer"), ("code_iso", "varchar(3) NOT NULL"),
                                            ("label", "varchar(128)"), ("unicode", "varchar(32)"),
                                            ("active", "smallint DEFAULT 1 NOT NULL")],
               tms=False, uniques=[("code_iso",)]))
    for short in ["actioncomm", "paiement", "payment_term", "typent", "effectif", "forme_juridique",
                  "civility", "type_contact", "shipment_mode", "units", "incoterms", "input_method",
                  "input_reason", "availability", "lead_status", "prospectlevel", "stcomm",
                  "chargesociales", "type_fees", "ecotaxe", "holiday_types", "ticket_category",
                  "ticket_severity", "ticket_type", "ticket_resolution", "barcode_type", "revenuestamp",
                  "socialnetworks", "email_templates", "exp_tax_cat", "exp_tax_range", "field_list",
                  "format_cards", "hrm_department", "hrm_function", "hrm_public_holiday",
                  "partnership_type", "product_nature", "productbatch_qcstatus", "propalst",
                  "transport_mode", "ziptown", "accounting_category", "action_trigger",
                  "type_resource"]:
        _add(Table("llx_c_" + short, "dict", [("rowid", "integer"), ("code", "varchar(32) NOT NULL"),
                                              ("label", "varchar(128)"), ("position", "integer DEFAULT 0"),
                                              ("active", "smallint DEFAULT 1 NOT NULL"),
                                              ("module", "varchar(32)")],
                   tms=False, uniques=[("code",)]))

    # ---- link tables (25): composite PK, no serial, no tms
    def link(name, a, ta, b, tb, extra=()):
        _add(Table("llx_" + name, "link", [(a, "integer NOT NULL"), (b, "integer NOT NULL")] + list(extra),
                   pk=(a, b), serial=None, tms=False,
                   fks=[(a, "llx_" + ta, "rowid"), (b, "llx_" + tb, "rowid")]))
    for what, tb, col in [("product", "product", "fk_product"), ("societe", "societe", "fk_soc"),
                          ("fournisseur", "societe", "fk_soc"), ("contact", "socpeople", "fk_socpeople"),
                          ("project", "projet", "fk_project"), ("member", "adherent", "fk_member"),
                          ("user", "user", "fk_user"), ("account", "bank_account", "fk_account"),
                          ("warehouse", "entrepot", "fk_warehouse"), ("ticket", "ticket", "fk_ticket"),
                          ("actioncomm", "actioncomm", "fk_actioncomm"),
                          ("knowledgemanagement", "knowledgemanagement_knowledgerecord", "fk_knowledgemanagement")]:
        _add(Table("llx_categorie_" + what, "link", [("fk_categorie", "integer NOT NULL"),
                                                     (col, "integer NOT NULL"), ("import_key", "varchar(14)")],
                   pk=("fk_categorie", col), serial=None, tms=False,
                   fks=[("fk_categorie", "llx_categorie", "rowid"),
                        (col, "llx_" + tb, "id" if tb == "actioncomm" else "rowid")]))
    _add(Table("llx_element_element", "link", [("fk_source", "integer NOT NULL"), ("sourcetype", "varchar(64) NOT NULL"),
                                               ("fk_target", "integer NOT NULL"), ("targettype", "varchar(64) NOT NULL")],
               pk=("fk_source", "sourcetype", "fk_target", "targettype"), serial=None, tms=False))
    _add(Table("llx_element_contact", "link", [("element_id", "integer NOT NULL"), ("fk_c_type_contact", "integer NOT NULL"),
                                               ("fk_socpeople", "integer NOT NULL"), ("statut", "smallint DEFAULT 5"),
                                               ("datecreate", "timestamp without time zone")],
               pk=("element_id", "fk_c_type_contact", "fk_socpeople"), serial=None, tms=False,
               fks=[("fk_c_type_contact", "llx_c_type_contact", "rowid")]))
    link("user_rights", "fk_user", "user", "fk_id", "rights_def", [("entity", "integer DEFAULT 1 NOT NULL")])
    link("usergroup_rights", "fk_usergroup", "usergroup", "fk_id", "rights_def", [("entity", "integer DEFAULT 1 NOT NULL")])
    link("usergroup_user", "fk_user", "user", "fk_usergroup", "usergroup", [("entity", "integer DEFAULT 1 NOT NULL")])
    link("paiement_facture", "fk_paiement", "paiement", "fk_facture", "facture",
         [("amount", MONEY + " DEFAULT 0"), ("multicurrency_amount", MONEY)])
    link("paiementfourn_facturefourn", "fk_paiementfourn", "paiementfourn", "fk_facturefourn", "facture_fourn",
         [("amount", MONEY + " DEFAULT 0")])
    link("bank_url", "fk_bank", "bank", "url_id", "societe", [("url", "varchar(255)"), ("label", "varchar(255)"),
                                                                ("type", "varchar(24) NOT NULL")])
    link("bank_class", "lineid", "bank", "fk_categ", "categorie")
    link("societe_commerciaux", "fk_soc", "societe", "fk_user", "user", [("import_key", "varchar(14)")])
    link("product_association", "fk_product_pere", "product", "fk_product_fils", "product",
         [("qty", "double precision"), ("incdec", "integer DEFAULT 1")])
    link("projet_task_contact", "fk_task", "projet_task", "fk_socpeople", "socpeople")
    link("usergroup_entity", "fk_usergroup", "usergroup", "entity_id", "entity")

    # ---- volatile tables (llx_user above)
    _add(Table("llx_cronjob", "volatile", [
        ("rowid", "integer"), ("entity", "integer DEFAULT 0"), ("jobtype", "varchar(10) NOT NULL"),
        ("label", "varchar(255) NOT NULL"), ("command", "varchar(255)"), ("classesname", "varchar(255)"),
        ("objectname", "varchar(255)"), ("methodename", "varchar(255)"), ("params", "text"),
        ("md5params", "varchar(32)"), ("module_name", "varchar(255)"), ("priority", "integer DEFAULT 0"),
        ("datelastrun", "timestamp without time zone"), ("datenextrun", "timestamp without time zone"),
        ("datestart", "timestamp without time zone"), ("datelastresult", "timestamp without time zone"),
        ("lastresult", "text"), ("lastoutput", "text"), ("unitfrequency", "varchar(255) DEFAULT '3600'"),
        ("frequency", "integer DEFAULT 0"), ("status", "integer DEFAULT 1 NOT NULL"),
        ("processing", "integer DEFAULT 0 NOT NULL"), ("pid", "integer"), ("fk_user_author", "integer"),
        ("note", "text")]))
    _add(Table("llx_const", "volatile", [
        ("rowid", "integer"), ("name", "varchar(180) NOT NULL"), ("entity", "integer DEFAULT 1 NOT NULL"),
        ("value", "text NOT NULL"), ("type", "varchar(64) DEFAULT 'string'"), ("visible", "smallint DEFAULT 1 NOT NULL"),
        ("note", "text")], uniques=[("name", "entity")]))
    _add(Table("llx_events", "volatile", [
        ("rowid", "integer"), ("type", "varchar(32) NOT NULL"), ("entity", "integer DEFAULT 1 NOT NULL"),
        ("prefix_session", "varchar(255)"), ("dateevent", "timestamp without time zone"),
        ("fk_user", "integer"), ("description", "varchar(250) NOT NULL"), ("ip", "varchar(250) NOT NULL"),
        ("user_agent", "varchar(255)"), ("fk_object", "integer"), ("authentication_method", "varchar(64)"),
        ("fk_oauth_token", "integer")], trigger=False))
    _add(Table("llx_user_param", "volatile", [
        ("fk_user", "integer NOT NULL"), ("entity", "integer DEFAULT 1 NOT NULL"),
        ("param", "varchar(180) NOT NULL"), ("value", "text NOT NULL")],
        pk=("fk_user", "entity", "param"), serial=None, tms=False, fks=[("fk_user", "llx_user", "rowid")]))
    _add(Table("llx_oauth_token", "volatile", [
        ("rowid", "integer"), ("service", "varchar(36)"), ("token", "text"), ("tokenstring", "text"),
        ("fk_soc", "integer"), ("fk_user", "integer"), ("fk_adherent", "integer"), ("restricted_ips", "varchar(200)"),
        ("datec", "timestamp without time zone"), ("entity", "integer DEFAULT 1")]))
    _add(Table("llx_societe_account", "volatile", [
        ("rowid", "integer"), ("entity", "integer DEFAULT 1"), ("login", "varchar(128) NOT NULL"),
        ("pass_encoding", "varchar(24)"), ("pass_crypted", "varchar(128)"), ("fk_soc", "integer"),
        ("site", "varchar(128)"), ("key_account", "varchar(128)"), ("date_last_login", "timestamp without time zone"),
        ("date_previous_login", "timestamp without time zone"), ("datec", "timestamp without time zone"),
        ("status", "integer")], fks=[("fk_soc", "llx_societe", "rowid")]))
    _add(Table("llx_mailing_cibles", "volatile", [
        ("rowid", "integer"), ("fk_mailing", "integer NOT NULL"), ("fk_contact", "integer NOT NULL"),
        ("lastname", "varchar(160)"), ("firstname", "varchar(160)"), ("email", "varchar(160) NOT NULL"),
        ("other", "varchar(255)"), ("tag", "varchar(64)"), ("statut", "smallint DEFAULT 0 NOT NULL"),
        ("source_url", "varchar(255)"), ("source_id", "integer"), ("source_type", "varchar(32)"),
        ("date_envoi", "timestamp without time zone"), ("error_text", "varchar(255)")], trigger=False,
        fks=[("fk_mailing", "llx_mailing", "rowid")]))
    _add(Table("llx_emailcollector_emailcollector", "volatile", [
        ("rowid", "integer"), ("entity", "integer DEFAULT 1 NOT NULL"), ("ref", "varchar(128) NOT NULL"),
        ("label", "varchar(255)"), ("description", "text"), ("host", "varchar(255)"), ("login", "varchar(128)"),
        ("source_directory", "varchar(255) NOT NULL"), ("target_directory", "varchar(255)"),
        ("datelastresult", "timestamp without time zone"), ("codelastresult", "varchar(16)"),
        ("lastresult", "text"), ("datelastok", "timestamp without time zone"), ("maxemailpercollect", "integer DEFAULT 100"),
        ("status", "integer NOT NULL")]))

    # ---- other tables: with tms (trigger on most) and without
    std = [("rowid", "integer"), ("entity", "integer DEFAULT 1 NOT NULL"), ("label", "varchar(255)"),
           ("fk_user_author", "integer"), ("datec", "timestamp without time zone"), ("status", "smallint DEFAULT 0"),
           ("note", "text"), ("import_key", "varchar(14)")]
    others_tms = ["bank", "bank_account", "usergroup", "rights_def_tms", "menu", "boxes_def", "document_model_tms",
                  "product_stock", "product_price", "product_fournisseur_price", "product_customer_price",
                  "product_batch", "stock_mouvement", "societe_rib", "societe_remise_except",
                  "societe_prices", "socpeople_roles", "mailing", "notify_def", "notify", "accounting_account",
                  "accounting_journal", "accounting_fiscalyear", "accounting_system", "ecm_directories",
                  "ecm_directories_extrafields_tms", "c_email_senderprofile", "website", "website_page",
                  "opensurvey_sondage", "prelevement_demande", "payment_salary", "payment_donation",
                  "payment_loan", "payment_expensereport", "payment_various", "facture_fourn_rec",
                  "subscription", "adherent_type", "resource", "element_resources", "extrafields",
                  "multicurrency", "multicurrency_rate", "oauth_state", "api_log", "printing",
                  "links", "overwrite_trans", "import_model", "export_model", "default_values",
                  "commande_fournisseur_dispatch", "expensereport_ik", "c_hrm_skill_tms", "hrm_skill",
                  "hrm_skillrank", "hrm_job", "hrm_position", "workstation_workstation",
                  "webhook_target", "mrp_mo_line_tms", "emailcollector_emailcollectorfilter",
                  "emailcollector_emailcollectoraction", "session_tokens"]
    no_trigger_others = {"product_stock", "stock_mouvement", "notify", "accounting_account", "ecm_directories",
                         "website_page", "api_log", "printing", "links", "subscription", "hrm_skillrank",
                         "multicurrency_rate", "webhook_target", "session_tokens"}
    for short in others_tms:
        _add(Table("llx_" + short, "other", std, trigger=short not in no_trigger_others))
    TABLES["llx_bank"].fks = [("fk_user_author", "llx_user", "rowid")]
    others_plain = ["rights_def", "boxes", "document_model", "entity", "menu_const", "bordereau_cheque",
                    "accounting_groups_account", "c_accounting_report", "onlinesignature", "sms_log",
                    "ecm_files_share", "holiday_config", "holiday_logs", "holiday_users", "propal_merge_pdf_product",
                    "product_attribute", "product_attribute_value", "product_attribute_combination",
                    "product_warehouse_properties", "actioncomm_resources", "actioncomm_reminder",
                    "socpeople_rib", "document_blob"]
    for short in others_plain:
        cols = std
        if short == "document_blob":
            cols = [("rowid", "integer"), ("entity", "integer DEFAULT 1 NOT NULL"), ("name", "varchar(255)"),
                    ("content", "oid"), ("bytes", "integer")]
        _add(Table("llx_" + short, "other", cols, tms=False))


_build_catalog()

ALL_TABLES = sorted(TABLES)
TMS_TABLES = [t for t in ALL_TABLES if TABLES[t].tms]
TRIGGER_TABLES = [t for t in ALL_TABLES if TABLES[t].trigger]
TMS_NO_TRIGGER_TABLES = [t for t in TMS_TABLES if not TABLES[t].trigger]
NO_TMS_TABLES = [t for t in ALL_TABLES if not TABLES[t].tms]
HEADER_TABLES = [t for t in ALL_TABLES if TABLES[t].category == "header"]
LINE_TABLES = [t for t in ALL_TABLES if TABLES[t].category == "line"]
EXTRAFIELDS_TABLES = [t for t in ALL_TABLES if TABLES[t].category == "extrafields"]
DICT_TABLES = [t for t in ALL_TABLES if TABLES[t].category == "dict"]
LINK_TABLES = [t for t in ALL_TABLES if TABLES[t].category == "link"]
VOLATILE_TABLES = ["llx_user", "llx_cronjob", "llx_const", "llx_events", "llx_user_param",
                   "llx_oauth_token", "llx_societe_account", "llx_mailing_cibles",
                   "llx_emailcollector_emailcollector"]
BENCH_DB_SCALE = 220000     # >= 1 GiB database
BENCH_DOCS_SCALE = 12500    # >= 2 GB documents tree
LARGE_TABLES = {"llx_societe": 0.3, "llx_product": 0.2, "llx_facture": 1.0, "llx_facturedet": 4.0,
                "llx_actioncomm": 3.0, "llx_ecm_files": 1.5, "llx_accounting_bookkeeping": 5.0}
VIEWS = ["llx_v_facture_unpaid", "llx_v_societe_customers", "llx_v_bookkeeping_balance"]
FUNCTIONS = ["update_modified_column_tms()", "unix_timestamp(timestamp without time zone)",
             "unix_timestamp(timestamp with time zone)", "from_unixtime(bigint)",
             "date_format(timestamp without time zone, text)", "year(timestamp without time zone)",
             "month(timestamp without time zone)", "day(timestamp without time zone)",
             "dayofmonth(timestamp without time zone)", "hour(timestamp without time zone)",
             "minute(timestamp without time zone)", "datediff(timestamp without time zone, timestamp without time zone)",
             "ifnull(text, text)"]


# =============================================================================== helpers

_DAY_CACHE = {}


def _ts(sec):
    """'YYYY-MM-DD HH:MM:SS' (UTC) for epoch seconds, fast."""
    day, rem = divmod(int(sec), 86400)
    d = _DAY_CACHE.get(day)
    if d is None:
        d = _DAY_CACHE[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))
    return "%s %02d:%02d:%02d" % (d, rem // 3600, rem // 60 % 60, rem % 60)


def _date(sec):
    return _ts(sec)[:10]


def _yymm(sec):
    t = time.gmtime(sec)
    return "%02d%02d" % (t.tm_year % 100, t.tm_mon)


def _money(cents):
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return "%s%d.%02d000000" % (sign, cents // 100, cents % 100)


def _esc(s):
    """Escape a text value for COPY text format."""
    if s is None:
        return "\\N"
    s = str(s)
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


_WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut "
          "labore et dolore magna aliqua facture client livraison paiement commande devis remise "
          "conditions générales délai échéance règlement virement chèque prélèvement garantie "
          "maintenance installation formation support licence abonnement transport emballage").split()


def _text(rng, nwords):
    ch = rng.choice
    return " ".join([ch(_WORDS) for _ in range(nwords)])


def _counts(scale):
    n = max(1, int(scale))
    return {
        "facture": n,
        "societe": max(3, round(0.3 * n)),
        "product": max(2, round(0.2 * n)),
        "propal": max(1, round(0.1 * n)),
        "commande": max(1, round(0.1 * n)),
        "facture_fourn": max(1, round(0.1 * n)),
        "projet": max(1, round(0.02 * n)),
        "user": 6,
    }


def _span_seconds(scale):
    # ~5000 invoices a year, between one and six years of history
    days = min(6 * 365, max(365, int(scale) * 365 // 5000))
    return days * 86400


# =============================================================================== plans

def invoice_headers(scale, seed):
    """Yield (rowid, ref, datef_epoch, fk_soc, status, is_draft) in rowid order."""
    c = _counts(scale)
    rng = random.Random("%s:facture" % seed)
    n = c["facture"]
    span = _span_seconds(scale)
    counters = {}
    for i in range(1, n + 1):
        t = DATE0 + (span * (i - 1)) // n + rng.randrange(3600 * 8, 3600 * 18)
        draft = rng.random() < 0.02
        socid = rng.randrange(1, c["societe"] + 1)
        if draft:
            ref = "(PROV%d)" % i
            status = 0
        else:
            ym = _yymm(t)
            counters[ym] = counters.get(ym, 0) + 1
            ref = "FA%s-%04d" % (ym, counters[ym])
            status = 2 if rng.random() < 0.85 else 1
        yield i, ref, t, socid, status, draft


def invoice_lines(scale, seed):
    """Yield, per invoice (rowid order), a list of (fk_product|None, qty, subprice_cents, tva_tx)."""
    c = _counts(scale)
    rng = random.Random("%s:facturedet" % seed)
    rr = rng.randrange
    nprod = c["product"]
    pattern = (1, 3, 4, 5, 7)
    for i in range(1, c["facture"] + 1):
        lines = []
        for _ in range(pattern[i % 5]):
            prod = rr(1, nprod + 1) if rr(10) < 7 else None
            tva = (20, 20, 20, 10, 5.5, 0)[rr(6)]
            lines.append((prod, rr(1, 20), rr(500, 250000), tva))
        yield lines


def _simple_refs(kind, prefix, scale, seed):
    c = _counts(scale)
    rng = random.Random("%s:%s" % (seed, kind))
    n = c[kind]
    span = _span_seconds(scale)
    counters = {}
    out = []
    for i in range(1, n + 1):
        t = DATE0 + (span * (i - 1)) // n + rng.randrange(3600 * 8, 3600 * 18)
        ym = _yymm(t)
        counters[ym] = counters.get(ym, 0) + 1
        out.append((i, "%s%s-%04d" % (prefix, ym, counters[ym]), t, rng.randrange(1, c["societe"] + 1)))
    return out


def product_refs(scale):
    return ["PRD-%05d" % i for i in range(1, _counts(scale)["product"] + 1)]


class Doc:
    __slots__ = ("relpath", "size", "mtime", "kind", "mode", "obj_type", "obj_id")

    def __init__(self, relpath, size, mtime, kind, mode=0o644, obj_type=None, obj_id=None):
        self.relpath, self.size, self.mtime, self.kind = relpath, size, int(mtime), kind
        self.mode, self.obj_type, self.obj_id = mode, obj_type, obj_id


INDEXED_MODULES = ("facture", "propale", "commande", "fournisseur", "societe", "produit", "ecm", "users")


def ecm_indexed(relpath):
    """True when a documents-tree file has a row in llx_ecm_files: a file of a business
    module folder, not under any temp/ or thumbs/ folder, not a *.pdf_preview*.png, not a
    log.  (Root files, mycompany/, doctemplates/ and admin/ are not indexed.)"""
    parts = relpath.split("/")
    if len(parts) < 2 or parts[0] not in INDEXED_MODULES:
        return False
    if "temp" in parts[:-1] or "thumbs" in parts[:-1]:
        return False
    name = parts[-1]
    return ".pdf_preview" not in name and not name.endswith(".log")


EMPTY_DIRS = ["ecm/Archives/2019", "propale/temp/massgeneration"]


def documents(scale, seed):
    """The planned documents tree: a list of Doc (no bytes), deterministic."""
    c = _counts(scale)
    rng = random.Random("%s:docs" % seed)
    rr = rng.randrange
    docs = []
    add = docs.append

    def pdf_size():
        return rr(20 * 1024, 200 * 1024)

    for i, ref, t, soc, status, draft in invoice_headers(scale, seed):
        add(Doc("facture/%s/%s.pdf" % (ref, ref), pdf_size(), t + rr(60, 7200), "pdf", obj_type="facture", obj_id=i))
        if rr(5) == 0:
            add(Doc("facture/%s/%s.pdf_preview.png" % (ref, ref), rr(8 * 1024, 40 * 1024),
                    t + rr(7200, 86400 * 30), "png"))
    for kind, folder, prefix in (("propal", "propale", "PR"), ("commande", "commande", "CO")):
        for i, ref, t, soc in _simple_refs(kind, prefix, scale, seed):
            add(Doc("%s/%s/%s.pdf" % (folder, ref, ref), pdf_size(), t + rr(60, 7200), "pdf",
                    obj_type=kind, obj_id=i))
            if rr(6) == 0:
                add(Doc("%s/%s/%s.pdf_preview.png" % (folder, ref, ref), rr(8 * 1024, 40 * 1024),
                        t + rr(7200, 86400 * 30), "png"))
    for i, ref, t, soc in _simple_refs("facture_fourn", "SI", scale, seed):
        add(Doc("fournisseur/facture/%d/%d/%s/FactureFournisseur_%d.pdf" % (i % 10, i // 10 % 10, ref, i),
                pdf_size(), t + rr(60, 86400 * 5), "pdf", obj_type="invoice_supplier", obj_id=i))
    nsoc = c["societe"]
    span = _span_seconds(scale)
    for sid in range(1, nsoc + 1):
        if sid % 3 != 1:
            continue
        name = "Extrait Kbis %d.pdf" % (2021 + sid % 4) if sid == 1 else "scan_%d_%d.pdf" % (sid, rr(1000, 9999))
        add(Doc("societe/%d/%s" % (sid, name), pdf_size(), DATE0 + rr(span), "pdf", obj_type="societe", obj_id=sid))
    for pid, pref in enumerate(product_refs(scale), 1):
        if pid % 4 != 1:
            continue
        t = DATE0 + rr(span)
        add(Doc("produit/%s/%s.jpg" % (pref, pref), rr(30 * 1024, 150 * 1024), t, "jpg", obj_type="product", obj_id=pid))
        add(Doc("produit/%s/thumbs/%s_small.jpg" % (pref, pref), rr(2048, 8192), t + 1, "jpg"))
        add(Doc("produit/%s/thumbs/%s_mini.jpg" % (pref, pref), rr(1024, 4096), t + 1, "jpg"))
    ecm_dirs = ["Comptabilité/2023", "Comptabilité/Relevés", "RH/Contrats", "Juridique/Statuts", "Qualité"]
    for k in range(max(3, round(0.05 * c["facture"]))):
        d = ecm_dirs[k % len(ecm_dirs)]
        if k == 0:
            name = "Relevé bancaire été 2023.pdf"
        elif k == 1:
            name = "notes de réunion.txt"
        else:
            name = "document_%04d.pdf" % k
        add(Doc("ecm/%s/%s" % (d, name), rr(1024, 4096) if name.endswith(".txt") else pdf_size(),
                DATE0 + rr(span), "txt" if name.endswith(".txt") else "pdf", obj_type="ecm"))
    for uid in range(1, c["user"] + 1):
        add(Doc("users/%d/photos/avatar_%d.jpg" % (uid, uid), rr(10 * 1024, 60 * 1024), DATE0 + rr(86400 * 30), "jpg",
                obj_type="user", obj_id=uid))
    t0 = DATE0 + 3600
    add(Doc("mycompany/logos/logo_company.png", 24576, t0, "png"))
    add(Doc("mycompany/logos/thumbs/logo_company_small.png", 4096, t0 + 1, "png"))
    add(Doc("mycompany/logos/thumbs/logo_company_mini.png", 1536, t0 + 1, "png"))
    for typ, name in (("invoices", "template_invoice.odt"), ("orders", "template_order.odt"),
                      ("proposals", "template_proposal.odt"), ("invoices", "modèle facture client.odt")):
        add(Doc("doctemplates/%s/%s" % (typ, name), rr(12 * 1024, 40 * 1024), t0 + 7200, "odt"))
    last = DATE0 + span
    for k in range(3):
        t = last - 86400 * 7 * (3 - k)
        add(Doc("admin/backup/pg_dump_dolibarr_17.0.0_%s.sql.gz" % time.strftime("%Y%m%d%H%M", time.gmtime(t)),
                rr(100 * 1024, 300 * 1024), t, "gz"))
    # regenerated caches (not business content)
    for mod, stats in (("facture", ("invoicesnbinyear", "invoicesamountinyear", "invoicesaverage")),
                       ("propale", ("propalsnbinyear", "propalsamountinyear")),
                       ("commande", ("ordersnbinyear", "ordersamountinyear")),
                       ("fournisseur", ("invoicessuppliernbinyear",)),
                       ("societe", ("thirdpartiesbytype",)), ("produit", ("productsbymonth",)),
                       ("ecm", ("ecmstats",))):
        for s in stats:
            add(Doc("%s/temp/%s-1-%d.png" % (mod, s, 2021 + rr(3)), rr(6 * 1024, 30 * 1024), last - rr(86400), "png"))
    add(Doc("facture/temp/massgeneration/mergedpdf.pdf", pdf_size(), last - 3600, "pdf"))
    for w in ("box_graph_invoices_permonth", "box_graph_orders_permonth", "box_lastlogin"):
        add(Doc("facture/temp/widget/%s.cache" % w, rr(512, 4096), last - rr(3600), "cache"))
    add(Doc("install.lock", 0, DATE0, "lock", mode=0o444))
    add(Doc("dolibarr.log", rr(50 * 1024, 200 * 1024), last, "log"))
    return docs


# =============================================================================== docs writer

def _content(doc, seed):
    rng = random.Random("%s:bytes:%s" % (seed, doc.relpath))
    n = doc.size
    k = doc.kind
    if k == "lock":
        return b"// Dolibarr install lock: remove this file to run the install wizard again\n"
    if k == "log":
        line = b"2023-06-01 10:00:00 INFO    10.0.0.%d        --- Access to GET /compta/facture/list.php\n"
        out = bytearray()
        i = 0
        while len(out) < n:
            out += line % (i % 250)
            i += 1
        return bytes(out[:n])
    if k == "txt":
        words = " ".join(_WORDS).encode("utf-8") + b"\n"
        return (words * (n // len(words) + 1))[:n]
    if k == "pdf":
        head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
        tail = b"\n%%EOF\n"
        body_len = max(0, n - len(head) - len(tail))
        if rng.random() < 0.1:  # a few compressible, text-heavy PDFs
            chunk = b"BT /F1 10 Tf 56 %d Td (Ligne de facture, quantite et prix unitaire) Tj ET\n"
            body = bytearray()
            y = 0
            while len(body) < body_len:
                body += chunk % (800 - y % 760)
                y += 12
            body = bytes(body[:body_len])
        else:
            body = rng.randbytes(body_len)
        return head + body + tail
    magic = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
             "odt": b"PK\x03\x04\x14\x00\x00\x08\x00\x00mimetypeapplication/vnd.oasis.opendocument.text",
             "gz": b"\x1f\x8b\x08\x00", "cache": b"a:3:{s:4:\"data\";"}.get(k, b"")
    return magic + rng.randbytes(max(0, n - len(magic)))


def _dir_mtime(seed, rel):
    h = int(hashlib.sha256(("%s:dir:%s" % (seed, rel)).encode("utf-8")).hexdigest()[:8], 16)
    return DATE0 + 86400 * 400 + h % (86400 * 300)


def create_docs(out, scale=200, seed=1, force=False):
    """Write the documents tree into ``out``; return (files, bytes)."""
    out = os.path.abspath(out)
    if os.path.isdir(out) and os.listdir(out):
        if not force:
            raise ValueError("%s is not empty (use force=True / --force to replace it)" % out)
        shutil.rmtree(out)
    os.makedirs(out, exist_ok=True)
    nfiles = nbytes = 0
    made = set()
    for doc in documents(scale, seed):
        path = os.path.join(out, doc.relpath)
        d = os.path.dirname(path)
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        data = _content(doc, seed)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, doc.mode)
        os.utime(path, (doc.mtime, doc.mtime))
        nfiles += 1
        nbytes += len(data)
    for rel in EMPTY_DIRS:
        os.makedirs(os.path.join(out, rel), exist_ok=True)
    # directory modes and mtimes last, deepest first
    dirs = []
    for root, dnames, _ in os.walk(out):
        for dn in dnames:
            dirs.append(os.path.join(root, dn))
    dirs.sort(key=lambda p: p.count(os.sep), reverse=True)
    for p in dirs + [out]:
        rel = os.path.relpath(p, out)
        os.chmod(p, 0o755)
        m = _dir_mtime(seed, rel)
        os.utime(p, (m, m))
    return nfiles, nbytes


# =============================================================================== database

FUNCTIONS_SQL = r"""
CREATE FUNCTION update_modified_column_tms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.tms = now();
  RETURN NEW;
END;
$$;
CREATE FUNCTION unix_timestamp(timestamp without time zone) RETURNS bigint LANGUAGE sql IMMUTABLE AS
  $$ SELECT extract(epoch FROM $1)::bigint $$;
CREATE FUNCTION unix_timestamp(timestamp with time zone) RETURNS bigint LANGUAGE sql IMMUTABLE AS
  $$ SELECT extract(epoch FROM $1)::bigint $$;
CREATE FUNCTION from_unixtime(bigint) RETURNS timestamp without time zone LANGUAGE sql IMMUTABLE AS
  $$ SELECT to_timestamp($1)::timestamp without time zone $$;
CREATE FUNCTION date_format(timestamp without time zone, text) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT to_char($1, replace(replace(replace(replace(replace(replace($2,
       '%Y', 'YYYY'), '%m', 'MM'), '%d', 'DD'), '%H', 'HH24'), '%i', 'MI'), '%s', 'SS')) $$;
CREATE FUNCTION year(timestamp without time zone) RETURNS integer LANGUAGE sql IMMUTABLE AS
  $$ SELECT extract(year FROM $1)::integer $$;
CREATE FUNCTION month(timestamp without time zone) RETURNS integer LANGUAGE sql IMMUTABLE AS
  $$ SELECT extract(month FROM $1)::integer $$;
CREATE FUNCTION day(timestamp without time zone) RETURNS integer LANGUAGE sql IMMUTABLE AS
  $$ SELECT extract(day FROM $1)::integer $$;
CREATE FUNCTION dayofmonth(timestamp without time zone) RETURNS integer LANGUAGE sql IMMUTABLE AS
  $$ SELECT extract(day FROM $1)::integer $$;
CREATE FUNCTION hour(timestamp without time zone) RETURNS integer LANGUAGE sql IMMUTABLE AS
  $$ SELECT extract(hour FROM $1)::integer $$;
CREATE FUNCTION minute(timestamp without time zone) RETURNS integer LANGUAGE sql IMMUTABLE AS
  $$ SELECT extract(minute FROM $1)::integer $$;
CREATE FUNCTION datediff(timestamp without time zone, timestamp without time zone) RETURNS integer
  LANGUAGE sql IMMUTABLE AS $$ SELECT ($1::date - $2::date) $$;
CREATE FUNCTION ifnull(text, text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce($1, $2) $$;
"""

VIEWS_SQL = """
CREATE VIEW llx_v_facture_unpaid AS
  SELECT f.rowid, f.ref, f.fk_soc, s.nom, f.datef, f.total_ttc
    FROM llx_facture f JOIN llx_societe s ON s.rowid = f.fk_soc
   WHERE f.fk_statut = 1 AND f.paye = 0;
CREATE VIEW llx_v_societe_customers AS
  SELECT rowid, nom, code_client, town, fk_pays FROM llx_societe WHERE client IN (1, 3);
CREATE VIEW llx_v_bookkeeping_balance AS
  SELECT numero_compte, sum(debit) AS debit, sum(credit) AS credit
    FROM llx_accounting_bookkeeping GROUP BY numero_compte;
"""


def _drop_sql():
    fnames = ", ".join("'%s'" % f.split("(")[0] for f in FUNCTIONS)
    return (
        "DO $$\nDECLARE r record;\nBEGIN\n"
        "  FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
        "            WHERE n.nspname = current_schema() AND c.relname LIKE 'llx\\_%' AND c.relkind IN ('v', 'r')\n"
        "              AND pg_get_userbyid(c.relowner) = current_user ORDER BY c.relkind DESC LOOP\n"
        "    IF r.relkind = 'v' THEN EXECUTE format('DROP VIEW IF EXISTS %I CASCADE', r.relname);\n"
        "    ELSE EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.relname); END IF;\n"
        "  END LOOP;\n"
        "  FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace\n"
        "            WHERE n.nspname = current_schema() AND pg_get_userbyid(p.proowner) = current_user\n"
        "              AND p.proname IN (" + fnames + ") LOOP\n"
        "    EXECUTE 'DROP FUNCTION ' || r.sig::text || ' CASCADE';\n"
        "  END LOOP;\n"
        "  PERFORM lo_unlink(l.oid) FROM pg_largeobject_metadata l\n"
        "   WHERE l.lomowner = (SELECT oid FROM pg_roles WHERE rolname = current_user);\n"
        "END $$;\n")


class _Out:
    """Buffered writer into psql's stdin; counts rows."""

    def __init__(self, stream):
        self.stream = stream
        self.buf = []
        self.size = 0
        self.rows = 0
        self.tables = {}

    def w(self, s):
        self.buf.append(s)
        self.size += len(s)
        if self.size > 1 << 20:
            self.flush()

    def flush(self):
        if self.buf:
            self.stream.write("".join(self.buf).encode("utf-8"))
            self.buf = []
            self.size = 0

    def copy(self, table, cols, rows):
        self.w("COPY %s (%s) FROM STDIN;\n" % (table, ", ".join(cols)))
        n = 0
        chunk = []
        for r in rows:
            chunk.append("\t".join(r))
            n += 1
            if len(chunk) >= 2000:
                chunk.append("")
                self.w("\n".join(chunk))
                chunk = []
        if chunk:
            chunk.append("")
            self.w("\n".join(chunk))
        self.w("\\.\n")
        self.rows += n
        self.tables[table] = self.tables.get(table, 0) + n
        return n


N_ = "\\N"


def _rows_dicts(o, seed):
    rng = random.Random("%s:dict" % seed)
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    codes = ["FR", "BE", "IT", "ES", "DE", "CH", "GB", "US", "NL", "LU", "PT", "AT", "CA", "MA", "TN", "SN"]
    seen = set(codes)
    for a in letters:
        for b in letters:
            if len(codes) >= 251:
                break
            if a + b not in seen:
                codes.append(a + b)
                seen.add(a + b)
    o.copy("llx_c_country", ["rowid", "code", "code_iso", "label", "eec", "active", "favorite"],
           ((str(i), c, c + "X", "Country %s" % c, "1" if i <= 12 else "0", "1", "1" if i == 1 else "0")
            for i, c in enumerate(codes, 1)))
    o.copy("llx_c_regions", ["rowid", "code_region", "fk_pays", "cheflieu", "tncc", "nom", "active"],
           ((str(i), str(100 + i), str(1 + (i * 7) % 251), "Chef-lieu %d" % i, "1", "Région %d" % i, "1")
            for i in range(1, 339)))
    o.copy("llx_c_departements", ["rowid", "code_departement", "fk_region", "cheflieu", "tncc", "ncc", "nom", "active"],
           ((str(i), "%03d" % (i % 1000), str(101 + (i * 13) % 338), "CL%d" % i, "1", "DEPT %d" % i,
             "Département %d" % i, "1") for i in range(1, 1840)))
    rates = ("0", "2.1", "5.5", "10", "20", "7", "19", "21", "22", "25")
    o.copy("llx_c_tva", ["rowid", "fk_pays", "code", "taux", "localtax1", "localtax2", "recuperableonly", "note", "active"],
           ((str(i), str(1 + (i - 1) // 10 % 251), "V%d" % i, rates[(i - 1) % 10], "0", "0",
             str((i - 1) // 2510), "VAT rate %s" % rates[(i - 1) % 10], "1") for i in range(1, 232)))
    cur = []
    for a in letters:
        for b in "AEIOU":
            for z in "DR":
                cur.append(a + b + z)
    o.copy("llx_c_currencies", ["rowid", "code_iso", "label", "unicode", "active"],
           ((str(i), c, "Currency %s" % c, "[%d]" % (8000 + i), "1") for i, c in enumerate((["EUR", "USD", "GBP", "CHF"] + [x for x in cur if x not in ("EUR", "USD", "GBP", "CHF")])[:152], 1)))
    for t in DICT_TABLES:
        if t in ("llx_c_country", "llx_c_regions", "llx_c_departements", "llx_c_tva", "llx_c_currencies"):
            continue
        short = t[6:].upper()
        n = 3 + rng.randrange(20)
        o.copy(t, ["rowid", "code", "label", "position", "active", "module"],
               ((str(i), "%s_%d" % (short[:20], i), "%s %d" % (t[6:].replace("_", " "), i), str(i * 10), "1", N_)
                for i in range(1, n + 1)))


def _rows_users(o, seed, c):
    rng = random.Random("%s:users" % seed)
    names = [("admin", "Admin", "Super"), ("jdupont", "Dupont", "Jean"), ("mmartin", "Martin", "Marie"),
             ("compta", "Durand", "Sophie"), ("commercial", "Bernard", "Luc"), ("api", "Service", "API")]
    rows = []
    for i, (login, ln, fn) in enumerate(names[:c["user"]], 1):
        t = DATE0 + i * 3600
        last = DATE0 + _span_seconds(200) + rng.randrange(86400)
        rows.append((str(i), "1", N_, login, "$2y$10$" + hashlib.sha256(("%s%s" % (seed, login)).encode()).hexdigest()[:53],
                     N_, "man" if i % 2 else "woman", N_, ln, fn, "%s@example.com" % login, N_, "1" if i == 1 else "0",
                     "1", N_, _ts(t), _ts(last), _ts(last - 86400), "10.0.0.%d" % (i + 1), "10.0.0.%d" % (i + 1),
                     "1", N_, "fr_FR", N_, _ts(last)))
    o.copy("llx_user", ["rowid", "entity", "ref_employee", "login", "pass_crypted", "api_key", "gender", "civility",
                        "lastname", "firstname", "email", "job", "admin", "employee", "fk_soc", "datec", "datelastlogin",
                        "datepreviouslogin", "iplastlogin", "ippreviouslogin", "statut", "photo", "lang", "import_key",
                        "tms"], rows)
    o.copy("llx_usergroup", ["rowid", "entity", "label", "datec", "tms"],
           [("1", "1", "Comptabilité", _ts(DATE0), _ts(DATE0)), ("2", "1", "Commerciaux", _ts(DATE0), _ts(DATE0))])
    o.copy("llx_usergroup_user", ["fk_user", "fk_usergroup", "entity"],
           [("2", "2", "1"), ("3", "1", "1"), ("4", "1", "1"), ("5", "2", "1")])
    nrights = 120
    o.copy("llx_rights_def", ["rowid", "entity", "label", "status"],
           ((str(i), "1", "right %d" % i, "1") for i in range(1, nrights + 1)))
    o.copy("llx_user_rights", ["fk_user", "fk_id", "entity"],
           ((str(u), str(r), "1") for u in range(1, c["user"] + 1) for r in range(1, nrights + 1)
            if u == 1 or (r + u) % 3 == 0))
    o.copy("llx_usergroup_rights", ["fk_usergroup", "fk_id", "entity"],
           ((str(g), str(r), "1") for g in (1, 2) for r in range(1, nrights + 1) if r % (g + 2) == 0))
    o.copy("llx_user_param", ["fk_user", "entity", "param", "value"],
           ((str(u), "1", "MAIN_SELECTEDFIELDS_%s" % p, "t.ref,t.date,t.total_ht") for u in range(1, c["user"] + 1)
            for p in ("invoicelist", "orderlist", "thirdpartylist")))
    o.copy("llx_events", ["rowid", "type", "entity", "dateevent", "fk_user", "description", "ip", "user_agent", "tms"],
           ((str(i), "USER_LOGIN" if i % 2 else "USER_LOGOUT", "1", _ts(DATE0 + i * 5000), str(1 + i % c["user"]),
             "(UserLogged,%s)" % names[i % c["user"]][0], "10.0.0.%d" % (1 + i % 9), "Mozilla/5.0",
             _ts(DATE0 + i * 5000)) for i in range(1, 41)))


def _rows_const(o, seed):
    rows = [("MAIN_INFO_SOCIETE_NOM", "Exemple SARL", "chaine"), ("MAIN_INFO_SOCIETE_COUNTRY", "1:FR:France", "chaine"),
            ("MAIN_MONNAIE", "EUR", "chaine"), ("MAIN_LANG_DEFAULT", "fr_FR", "chaine"),
            ("MAIN_VERSION_LAST_INSTALL", "17.0.0", "chaine"), ("MAIN_VERSION_LAST_UPGRADE", "19.0.2", "chaine"),
            ("MAIN_FIRST_PING_OK_DATE", "20210101120000", "chaine"), ("MAIN_FIRST_PING_OK_ID", "%032x" % seed, "chaine"),
            ("MAIN_IHM_PARAMS_REV", "57", "chaine"), ("API_COUNTER_COUNT", "18234", "chaine"),
            ("FACTURE_ADDON", "mod_facture_terre", "chaine"), ("FACTURE_ADDON_PDF", "sponge", "chaine"),
            ("PROPALE_ADDON_PDF", "cyan", "chaine"), ("COMMANDE_ADDON_PDF", "eratosthene", "chaine"),
            ("MAIN_MODULE_SOCIETE", "1", "string"), ("MAIN_MODULE_FACTURE", "1", "string"),
            ("MAIN_MODULE_PROPALE", "1", "string"), ("MAIN_MODULE_COMMANDE", "1", "string"),
            ("MAIN_MODULE_FOURNISSEUR", "1", "string"), ("MAIN_MODULE_PRODUCT", "1", "string"),
            ("MAIN_MODULE_ECM", "1", "string"), ("MAIN_MODULE_AGENDA", "1", "string"),
            ("MAIN_MODULE_ACCOUNTING", "1", "string"), ("MAIN_MODULE_BLOCKEDLOG", "1", "string"),
            ("MAIN_MODULE_CRON", "1", "string"), ("MAIN_MODULE_API", "1", "string"),
            ("SYSLOG_HANDLERS", '["mod_syslog_file"]', "chaine"), ("SYSLOG_LEVEL", "6", "chaine"),
            ("MAIN_SECURITY_SALT", hashlib.sha256(b"salt%d" % seed).hexdigest()[:32], "chaine"),
            ("MAIN_PDF_FORMAT", "EUA4", "chaine"), ("MAIN_SIZE_LISTE_LIMIT", "25", "chaine"),
            ("MAIN_DELAY_ACTIONS_TODO", "7", "chaine"), ("MAIN_USE_ADVANCED_PERMS", "1", "chaine")]
    for k in range(40):
        rows.append(("MAIN_MODULE_EXTRA%02d_SETTING" % k, str(k * 7 % 13), "chaine"))
    o.copy("llx_const", ["rowid", "name", "entity", "value", "type", "visible", "note", "tms"],
           ((str(i), n, "1", v, t, "0" if "SALT" in n else "1", N_, _ts(DATE0 + i * 60)) for i, (n, v, t) in enumerate(rows, 1)))


def _rows_cron(o, seed):
    jobs = [("PurgeDeleteTemporaryFilesShort", "method", "core/class/utils.class.php", "Utils", "purgeFiles", 86400),
            ("MakeLocalDatabaseDumpShort", "method", "core/class/utils.class.php", "Utils", "dumpDatabase", 604800),
            ("SendEmailsReminders", "method", "comm/action/class/actioncomm.class.php", "ActionComm", "sendEmailsReminder", 300),
            ("RecurringInvoices", "method", "compta/facture/class/facture-rec.class.php", "FactureRec", "createRecurringInvoices", 86400),
            ("SendEmailsRemindersOnInvoiceDueDate", "method", "compta/facture/class/facture.class.php", "Facture", "sendEmailsRemindersOnInvoiceDueDate", 86400),
            ("CompressSyslogs", "method", "core/class/utils.class.php", "Utils", "compressSyslogs", 86400),
            ("ProductBatchAlert", "method", "product/stock/class/productlot.class.php", "Productlot", "doScheduledJob", 86400),
            ("BlockedLogCheck", "method", "blockedlog/class/blockedlog.class.php", "BlockedLog", "checkLogs", 86400),
            ("EmailCollector", "method", "emailcollector/class/emailcollector.class.php", "EmailCollector", "doCollect", 600),
            ("CustomScript", "command", N_, N_, N_, 3600)]
    last = DATE0 + _span_seconds(200)
    o.copy("llx_cronjob", ["rowid", "entity", "jobtype", "label", "classesname", "objectname", "methodename",
                           "datelastrun", "datenextrun", "datestart", "lastresult", "lastoutput", "frequency",
                           "unitfrequency", "status", "processing", "pid", "fk_user_author", "tms"],
           ((str(i), "0", jt, lab, cls, obj, meth, _ts(last - f), _ts(last), _ts(DATE0), "0", "Job done",
             str(f), "1", "1", "0", str(4000 + i), "1", _ts(last - f))
            for i, (lab, jt, cls, obj, meth, f) in enumerate(jobs, 1)))
    o.copy("llx_oauth_token", ["rowid", "service", "token", "fk_user", "datec", "entity", "tms"],
           [("1", "Google-Mail", '{"access_token":"ya29.%s"}' % hashlib.sha1(b"tok%d" % seed).hexdigest(), "1",
             _ts(DATE0), "1", _ts(last))])
    o.copy("llx_emailcollector_emailcollector",
           ["rowid", "entity", "ref", "label", "host", "login", "source_directory", "datelastresult", "codelastresult",
            "lastresult", "status", "tms"],
           [("1", "1", "Collect_Ticket", "Collect tickets", "imap.example.com", "support@example.com", "INBOX",
             _ts(last), "OK", "3 emails found", "1", _ts(last))])
    o.copy("llx_mailing", ["rowid", "entity", "label", "status", "datec", "tms"],
           [("1", "1", "Newsletter", "3", _ts(DATE0 + 86400 * 30), _ts(DATE0 + 86400 * 30))])


def _rows_societe(o, seed, c):
    rng = random.Random("%s:societe" % seed)
    rr = rng.randrange
    rnd = rng.random
    span = _span_seconds(c["facture"])
    towns = ["Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Lille", "Bordeaux", "Rennes", "Grenoble", "Dijon"]
    cols = ["rowid", "nom", "name_alias", "entity", "statut", "status", "code_client", "code_fournisseur",
            "code_compta", "address", "zip", "town", "fk_departement", "fk_pays", "phone", "fax", "url", "email",
            "socialnetworks", "fk_effectif", "fk_typent", "fk_forme_juridique", "siren", "siret", "ape", "tva_intra",
            "capital", "note_private", "note_public", "client", "fournisseur", "tva_assuj", "default_lang",
            "datec", "fk_user_creat", "multicurrency_code", "ip", "tms"]

    def rows():
        for i in range(1, c["societe"] + 1):
            t = DATE0 + (span * (i - 1)) // c["societe"]
            siren = "%09d" % rr(10 ** 9)
            client = (1, 1, 1, 2, 3, 0)[rr(6)]
            yield (str(i), "Société %s %d" % (_WORDS[rr(len(_WORDS))].capitalize(), i), "Alias %d" % i, "1", "0", "1",
                   "CU%s-%05d" % (_yymm(t), i), ("SU%s-%05d" % (_yymm(t), i)) if client == 0 or rnd() < 0.1 else N_,
                   "411%05d" % i, "%d rue %s" % (rr(1, 200), _text(rng, 2)), "%05d" % rr(1000, 95999),
                   towns[rr(len(towns))], str(rr(1, 96)), "1", "+33 1 %02d %02d %02d %02d" % (rr(100), rr(100), rr(100), rr(100)),
                   N_, "https://www.example-%d.com" % i, "contact%d@example-%d.com" % (i, i),
                   '{"linkedin":"company-%d"}' % i, str(rr(1, 8)), str(rr(1, 8)), str(rr(1, 40)), siren,
                   siren + "%05d" % rr(100000), "%04d%s" % (rr(10000), "ABCDEFGHJKLMNPQRSTUVWXYZ"[rr(24)]),
                   "FR%02d%s" % (rr(100), siren), _money(rr(100000, 100000000)), _esc(_text(rng, 30 + rr(40))),
                   _esc(_text(rng, 10 + rr(20))), str(client), "1" if client == 0 else "0", "1", "fr_FR", _ts(t), "1",
                   "EUR", "10.%d.%d.%d" % (rr(256), rr(256), rr(256)), _ts(t + rr(86400 * 30)))
    o.copy("llx_societe", cols, rows())


def _rows_product(o, seed, c):
    rng = random.Random("%s:product" % seed)
    rr = rng.randrange
    cols = ["rowid", "ref", "entity", "datec", "label", "description", "price", "price_ttc", "tva_tx",
            "fk_user_author", "tosell", "tobuy", "fk_product_type", "stock", "pmp", "weight", "barcode",
            "accountancy_code_sell", "tms"]

    def rows():
        for i, ref in enumerate(product_refs(c["facture"]), 1):
            p = rr(500, 250000)
            t = DATE0 + i * 600
            yield (str(i), ref, "1", _ts(t), "Produit %s %d" % (_WORDS[rr(len(_WORDS))], i), _esc(_text(rng, 12 + rr(25))),
                   _money(p), _money(p * 6 // 5), "20.0000", "1", "1", "1", str(rr(2)), str(rr(0, 500)),
                   _money(p * 7 // 10), str(rr(1, 5000) / 100), "3%012d" % i, "706000", _ts(t + rr(86400 * 90)))
    o.copy("llx_product", cols, rows())


def _rows_projet(o, seed, c):
    rng = random.Random("%s:projet" % seed)
    o.copy("llx_projet", ["rowid", "ref", "entity", "fk_soc", "fk_user_author", "datec", "fk_statut", "title",
                          "dateo", "public", "tms"],
           ((str(i), "PJ%04d-%03d" % (2101 + i % 12, i), "1", str(1 + rng.randrange(c["societe"])), "1",
             _ts(DATE0 + i * 86400), "1", "Projet %s" % _text(rng, 3), _date(DATE0 + i * 86400), "1",
             _ts(DATE0 + i * 86400)) for i in range(1, c["projet"] + 1)))


def _line_total(lines):
    ht = tva = 0
    for prod, qty, price, rate in lines:
        lht = qty * price
        ht += lht
        tva += int(round(lht * rate / 100))
    return ht, tva


def _rows_facture(o, seed, c):
    cols = ["rowid", "ref", "entity", "fk_soc", "fk_projet", "fk_user_author", "fk_user_modif", "datec", "fk_statut",
            "type", "datef", "date_valid", "date_lim_reglement", "paye", "fk_user_valid", "fk_cond_reglement",
            "fk_mode_reglement", "multicurrency_code", "total_ht", "total_tva", "total_ttc", "note_private",
            "note_public", "model_pdf", "last_main_doc", "tms"]
    nproj = c["projet"]

    def rows():
        for (i, ref, t, soc, status, draft), lines in zip(invoice_headers(c["facture"], seed),
                                                         invoice_lines(c["facture"], seed)):
            ht, tva = _line_total(lines)
            yield (str(i), ref, "1", str(soc), str(1 + i % nproj) if i % 7 == 0 else N_, "2", "2" if status else N_,
                   _ts(t), str(status), "0", _date(t), _date(t) if status else N_, _date(t + 30 * 86400),
                   "1" if status == 2 else "0", "2" if status else N_, "1", "2", "EUR", _money(ht), _money(tva),
                   _money(ht + tva), N_, "Merci de votre confiance" if i % 3 == 0 else N_, "sponge",
                   "facture/%s/%s.pdf" % (ref, ref), _ts(t + 3600 * (1 + i % 48)))
    o.copy("llx_facture", cols, rows())


def _rows_facturedet(o, seed, c):
    cols = ["rowid", "fk_facture", "fk_product", "label", "description", "tva_tx", "qty", "subprice", "total_ht",
            "total_tva", "total_ttc", "product_type", "rang"]
    desc = ["Prestation de service", "Fourniture de matériel", "Abonnement mensuel", "Forfait installation",
            "Maintenance annuelle", "Frais de port"]

    def rows():
        rid = 0
        for i, lines in enumerate(invoice_lines(c["facture"], seed), 1):
            for k, (prod, qty, price, rate) in enumerate(lines):
                rid += 1
                lht = qty * price
                ltva = int(round(lht * rate / 100))
                yield (str(rid), str(i), str(prod) if prod else N_, N_, desc[(rid + k) % 6], "%.4f" % rate, str(qty),
                       _money(price), _money(lht), _money(ltva), _money(lht + ltva), "0" if prod else "1", str(k + 1))
    o.copy("llx_facturedet", cols, rows())


def _rows_actioncomm(o, seed, c):
    cols = ["id", "ref", "entity", "datep", "datep2", "fk_action", "code", "datec", "fk_user_author", "fk_user_action",
            "fk_soc", "fk_element", "elementtype", "label", "note", "percent", "email_msgid", "tms"]
    steps = (("AC_BILL_CREATE", "créée", 0), ("AC_BILL_VALIDATE", "validée", 600), ("AC_BILL_SENTBYMAIL", "envoyée par email", 3000))
    users = c["user"]

    def rows():
        aid = 0
        for i, ref, t, soc, status, draft in invoice_headers(c["facture"], seed):
            for code, what, dt in steps:
                aid += 1
                tt = t + dt
                note = "Facture %s %s\nAuteur: user %d\nMontant et conditions conformes au devis accepté." % (ref, what, 1 + aid % users)
                yield (str(aid), str(aid), "1", _ts(tt), _ts(tt), "40", code, _ts(tt), str(1 + aid % users),
                       str(1 + aid % users), str(soc), str(i), "invoice", "Facture %s %s" % (ref, what), _esc(note),
                       "-1", ("<%d.%s@example.com>" % (aid, ref)) if code == "AC_BILL_SENTBYMAIL" else N_, _ts(tt))
    o.copy("llx_actioncomm", cols, rows())


_ACCOUNTS = (("411000", "Clients"), ("706000", "Prestations de services"), ("707000", "Ventes de marchandises"),
             ("445710", "TVA collectée"), ("512000", "Banque"))


def _rows_bookkeeping(o, seed, c):
    cols = ["rowid", "entity", "piece_num", "doc_date", "doc_type", "doc_ref", "fk_doc", "fk_docdet", "thirdparty_code",
            "subledger_account", "subledger_label", "numero_compte", "label_compte", "label_operation", "debit",
            "credit", "montant", "sens", "fk_user_author", "date_creation", "code_journal", "journal_label",
            "date_validated", "tms"]

    def rows():
        rid = 0
        for (i, ref, t, soc, status, draft), lines in zip(invoice_headers(c["facture"], seed),
                                                         invoice_lines(c["facture"], seed)):
            ht, tva = _line_total(lines)
            h1 = ht * 6 // 10
            entries = ((0, ht + tva, 0), (1, 0, h1), (2, 0, ht - h1), (3, 0, tva), (4, 0, 0))
            d = _date(t)
            for k, debit, credit in entries:
                rid += 1
                acc, lab = _ACCOUNTS[k]
                amount = debit or credit
                yield (str(rid), "1", str(i), d, "customer_invoice", ref, str(i), str(k), "CU%05d" % soc,
                       "411%05d" % soc if k == 0 else N_, "Société %d" % soc if k == 0 else N_, acc, lab,
                       "%s - %s" % (ref, lab), _money(debit), _money(credit), _money(amount), "D" if debit else "C",
                       "4", _ts(t + 86400 * 2), "VT", "Journal des ventes", _ts(t + 86400 * 40) if i % 2 else N_,
                       _ts(t + 86400 * 2))
    o.copy("llx_accounting_bookkeeping", cols, rows())


def _rows_simple_docs(o, seed, c):
    for kind, table, prefix in (("propal", "llx_propal", "PR"), ("commande", "llx_commande", "CO"),
                                ("facture_fourn", "llx_facture_fourn", "SI")):
        rng = random.Random("%s:%s:amounts" % (seed, kind))
        folder = {"propal": "propale", "commande": "commande", "facture_fourn": "fournisseur/facture"}[kind]

        def rows(kind=kind, rng=rng, folder=folder, prefix=prefix):
            for i, ref, t, soc in _simple_refs(kind, prefix, c["facture"], seed):
                ht = rng.randrange(1000, 5000000)
                tva = ht // 5
                yield (str(i), ref, "1", str(soc), "1", _ts(t), str(1 + i % 3), _money(ht), _money(tva),
                       _money(ht + tva), "%s/%s/%s.pdf" % (folder, ref, ref), _ts(t + 3600))
        o.copy(table, ["rowid", "ref", "entity", "fk_soc", "fk_user_author", "datec", "fk_statut", "total_ht",
                       "total_tva", "total_ttc", "last_main_doc", "tms"], rows())


def _rows_ecm(o, seed, c):
    cols = ["rowid", "ref", "label", "entity", "filepath", "filename", "src_object_type", "src_object_id",
            "fullpath_orig", "position", "gen_or_uploaded", "date_c", "fk_user_c", "tms"]

    def rows():
        rid = 0
        for d in documents(c["facture"], seed):
            if not ecm_indexed(d.relpath):
                continue
            rid += 1
            fp, fn = d.relpath.rsplit("/", 1)
            h = hashlib.md5(("%s:%s" % (seed, d.relpath)).encode("utf-8")).hexdigest()
            yield (str(rid), h[:32], h, "1", _esc(fp), _esc(fn), d.obj_type or N_, str(d.obj_id) if d.obj_id else N_,
                   _esc(fn) if d.obj_type in ("societe", "ecm", "product", "user") else N_, "0",
                   "generated" if d.kind == "pdf" and d.obj_type in ("facture", "propal", "commande") else "uploaded",
                   _ts(d.mtime), "1", _ts(d.mtime))
    o.copy("llx_ecm_files", cols, rows())


def _rows_misc(o, seed, c):
    n = c["facture"]
    last = DATE0 + _span_seconds(n)
    o.copy("llx_categorie", ["rowid", "ref", "entity", "datec", "fk_statut", "note_public", "tms"],
           ((str(i), "CAT%02d" % i, "1", _ts(DATE0), "0", "Catégorie %d" % i, _ts(DATE0 + i)) for i in range(1, 9)))
    o.copy("llx_categorie_product", ["fk_categorie", "fk_product"],
           ((str(1 + p % 8), str(p)) for p in range(1, c["product"] + 1, 2)))
    o.copy("llx_categorie_societe", ["fk_categorie", "fk_soc"],
           ((str(1 + s % 8), str(s)) for s in range(1, c["societe"] + 1, 3)))
    o.copy("llx_element_element", ["fk_source", "sourcetype", "fk_target", "targettype"],
           ((str(1 + i % c["propal"]), "propal", str(i), "facture") for i in range(1, n + 1, 4)))
    o.copy("llx_bank_account", ["rowid", "entity", "label", "datec", "status", "tms"],
           [("1", "1", "Compte courant", _ts(DATE0), "1", _ts(DATE0))])
    npay = max(1, n // 2)
    o.copy("llx_paiement", ["rowid", "ref", "entity", "fk_user_author", "datec", "fk_statut", "total_ttc", "tms"],
           ((str(i), "PAY%06d" % i, "1", "4", _ts(DATE0 + i * 3600), "1", _money(10000 + i), _ts(DATE0 + i * 3600))
            for i in range(1, npay + 1)))
    o.copy("llx_paiement_facture", ["fk_paiement", "fk_facture", "amount"],
           ((str(i), str(2 * i - 1), _money(10000 + i)) for i in range(1, npay + 1)))
    o.copy("llx_bank", ["rowid", "entity", "label", "fk_user_author", "datec", "status", "tms"],
           ((str(i), "1", "(CustomerInvoicePayment)", "4", _ts(DATE0 + i * 3600), "1", _ts(DATE0 + i * 3600))
            for i in range(1, npay + 1)))
    o.copy("llx_bank_url", ["fk_bank", "url_id", "url", "label", "type"],
           ((str(i), str(1 + i % c["societe"]), "/societe/card.php?socid=", "(Customer)", "company")
            for i in range(1, npay + 1)))
    o.copy("llx_holiday", ["rowid", "ref", "entity", "fk_user", "fk_user_author", "datec", "fk_statut", "date_debut",
                           "date_fin", "fk_type", "tms"],
           ((str(i), "HL%04d-%04d" % (2101 + i % 12, i), "1", str(1 + i % c["user"]), "1", _ts(DATE0 + i * 86400 * 9),
             "3", _date(DATE0 + i * 86400 * 9 + 86400 * 30), _date(DATE0 + i * 86400 * 9 + 86400 * 35), "1",
             _ts(DATE0 + i * 86400 * 9)) for i in range(1, 13)))
    o.copy("llx_ticket", ["rowid", "ref", "entity", "fk_soc", "fk_user_author", "datec", "fk_statut", "note_public", "tms"],
           ((str(i), "TS%04d-%04d" % (2101 + i % 12, i), "1", str(1 + i % c["societe"]), "1", _ts(DATE0 + i * 40000),
             str(i % 8), "Ticket %d" % i, _ts(DATE0 + i * 40000)) for i in range(1, 21)))
    o.copy("llx_product_lot", ["rowid", "ref", "entity", "fk_user_author", "datec", "fk_statut", "tms"],
           ((str(i), "LOT%05d" % i, "1", "1", _ts(DATE0 + i * 3600), "1", _ts(DATE0 + i * 3600)) for i in range(1, 11)))
    o.copy("llx_facture_extrafields", ["rowid", "fk_object", "import_key", "tms"],
           ((str(i), str(i), N_, _ts(DATE0 + i)) for i in range(1, n + 1, 2)))
    o.copy("llx_societe_extrafields", ["rowid", "fk_object", "import_key", "options_field1", "tms"],
           ((str(i), str(i), N_, "segment %d" % (i % 5), _ts(DATE0 + i)) for i in range(1, c["societe"] + 1)))
    o.copy("llx_societe_account", ["rowid", "entity", "login", "fk_soc", "site", "date_last_login", "datec", "status", "tms"],
           ((str(i), "1", "portal%d" % i, str(i), "dolibarr_portal", _ts(last - i * 3600), _ts(DATE0), "1",
             _ts(last - i * 3600)) for i in range(1, min(10, c["societe"]) + 1)))
    o.copy("llx_mailing_cibles", ["rowid", "fk_mailing", "fk_contact", "lastname", "email", "statut", "date_envoi", "tms"],
           ((str(i), "1", str(i), "Contact %d" % i, "c%d@example.com" % i, "2" if i % 3 else "1",
             _ts(DATE0 + 86400 * 31), _ts(DATE0 + 86400 * 32 + i)) for i in range(1, 31)))
    rng = random.Random("%s:blockedlog" % seed)
    prev = "0" * 64
    rows = []
    for i in range(1, max(10, n // 10) + 1):
        data = '{"ref":"FA-%d","amount":%d}' % (i, rng.randrange(100, 100000))
        sig = hashlib.sha256((prev + data).encode()).hexdigest()
        rows.append((str(i), "1", _ts(DATE0 + i * 4000), "BILL_VALIDATE", _money(rng.randrange(100, 100000)), "facture",
                     "2", "Admin Super", str(i), "FA-%d" % i, _ts(DATE0 + i * 4000), sig, sig[:64], data, "17.0.0", "0",
                     _ts(DATE0 + i * 4000)))
        prev = sig
    o.copy("llx_blockedlog", ["rowid", "entity", "date_creation", "action", "amounts", "element", "fk_user",
                              "user_fullname", "fk_object", "ref_object", "date_object", "signature", "signature_line",
                              "object_data", "object_version", "certified", "tms"], rows)


def _post_sql():
    out = []
    for name in ALL_TABLES:
        t = TABLES[name]
        if t.serial:
            out.append("SELECT setval(pg_get_serial_sequence('%s', '%s'), coalesce(max(%s), 0) + 1, false) FROM %s;"
                       % (name, t.serial, t.serial, name))
    for name in ALL_TABLES:
        t = TABLES[name]
        cols = [c for c, _ in t.cols if c.startswith("fk_") and c not in t.pk[:1]]
        for c in cols:
            out.append("CREATE INDEX idx_%s_%s ON %s (%s);" % (name[4:], c, name, c))
    for name in ALL_TABLES:
        t = TABLES[name]
        for k, (c, rt, rc) in enumerate(t.fks):
            if rt not in TABLES:
                continue
            out.append("ALTER TABLE %s ADD CONSTRAINT fk_%s_%s FOREIGN KEY (%s) REFERENCES %s (%s) "
                       "DEFERRABLE INITIALLY IMMEDIATE;" % (name, name[4:], c, c, rt, rc))
    for name in TRIGGER_TABLES:
        out.append("CREATE TRIGGER update_customer_modtime BEFORE UPDATE ON %s FOR EACH ROW "
                   "EXECUTE PROCEDURE update_modified_column_tms();" % name)
    for name in ALL_TABLES:
        if TABLES[name].comment:
            out.append("COMMENT ON TABLE %s IS '%s';" % (name, TABLES[name].comment.replace("'", "''")))
    out.append(VIEWS_SQL)
    return "\n".join(out) + "\n"


def _psql_cmd(psql_bin=None):
    exe = psql_bin or os.environ.get("DOLIBAK_PSQL") or shutil.which("psql")
    if not exe:
        for cand in sorted(os.listdir("/usr/lib/postgresql") if os.path.isdir("/usr/lib/postgresql") else [],
                           key=lambda v: float(v) if v.replace(".", "").isdigit() else 0, reverse=True):
            p = "/usr/lib/postgresql/%s/bin/psql" % cand
            if os.access(p, os.X_OK):
                exe = p
                break
    if not exe:
        raise RuntimeError("psql not found (set DOLIBAK_PSQL or PATH)")
    return [exe, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"]


def create_db(env=None, scale=200, seed=1, drop_first=False, psql_bin=None):
    """Create and fill the Dolibarr-like schema in the database named by the libpq
    variables of ``env`` (a dict merged over os.environ; None = os.environ).
    Returns {"tables": n, "rows": n, "seconds": s, "per_table": {...}}."""
    t0 = time.monotonic()
    full_env = dict(os.environ)
    if env:
        full_env.update({k: str(v) for k, v in env.items()})
    c = _counts(scale)
    proc = subprocess.Popen(_psql_cmd(psql_bin), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=full_env)
    err_chunks = []
    th = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    th.start()
    o = _Out(proc.stdin)
    try:
        o.w("SET client_min_messages = warning;\n")
        if drop_first:
            o.w(_drop_sql())
        o.w("BEGIN;\n")
        o.w(FUNCTIONS_SQL)
        for name in ALL_TABLES:
            o.w(TABLES[name].ddl())
        _rows_dicts(o, seed)
        _rows_users(o, seed, c)
        _rows_const(o, seed)
        _rows_cron(o, seed)
        _rows_projet(o, seed, c)
        _rows_societe(o, seed, c)
        _rows_product(o, seed, c)
        _rows_facture(o, seed, c)
        _rows_facturedet(o, seed, c)
        _rows_simple_docs(o, seed, c)
        _rows_actioncomm(o, seed, c)
        _rows_bookkeeping(o, seed, c)
        _rows_ecm(o, seed, c)
        _rows_misc(o, seed, c)
        blob = random.Random("%s:blob" % seed).randbytes(64 * 1024)
        o.w("INSERT INTO llx_document_blob (rowid, entity, name, content, bytes) VALUES "
            "(1, 1, 'mycompany/logos/logo_company.png', lo_from_bytea(0, '\\x%s'::bytea), %d);\n" % (blob.hex(), len(blob)))
        o.rows += 1
        o.w(_post_sql())
        o.w("COMMIT;\nANALYZE;\n")
        o.flush()
        proc.stdin.close()
    except BrokenPipeError:
        pass
    rc = proc.wait()
    th.join(10)
    err = b"".join(err_chunks).decode("utf-8", "replace").strip()
    if rc != 0:
        raise RuntimeError("psql failed (exit %d): %s" % (rc, err[-3000:]))
    secs = time.monotonic() - t0
    return {"tables": len(ALL_TABLES), "rows": o.rows, "seconds": round(secs, 2), "per_table": o.tables}


# =============================================================================== CLI

def main(argv=None):
    ap = argparse.ArgumentParser(description="Dolibarr-like database and documents generator")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("db", "docs", "both"):
        p = sub.add_parser(name)
        p.add_argument("--scale", type=int, default=200, help="number of customer invoices (default 200)")
        p.add_argument("--seed", type=int, default=1)
        if name in ("db", "both"):
            p.add_argument("--drop-first", action="store_true", help="drop existing llx_ objects first")
        if name == "docs":
            p.add_argument("--out", required=True)
        if name == "both":
            p.add_argument("--docs", required=True)
        if name in ("docs", "both"):
            p.add_argument("--force", action="store_true", help="replace a non-empty output dir")
    a = ap.parse_args(argv)
    try:
        if a.cmd in ("db", "both"):
            r = create_db(None, a.scale, a.seed, a.drop_first)
            print("dolibarr_gen db: %d tables, %d rows, %.1f s (scale %d, seed %d)"
                  % (r["tables"], r["rows"], r["seconds"], a.scale, a.seed), file=sys.stderr)
        if a.cmd in ("docs", "both"):
            t0 = time.monotonic()
            out = a.out if a.cmd == "docs" else a.docs
            n, b = create_docs(out, a.scale, a.seed, force=a.force)
            print("dolibarr_gen docs: %d files, %.1f MB, %.1f s (scale %d, seed %d) in %s"
                  % (n, b / 1e6, time.monotonic() - t0, a.scale, a.seed, out), file=sys.stderr)
    except (RuntimeError, ValueError) as e:
        print("dolibarr_gen: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
