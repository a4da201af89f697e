import os, json
from mountlib import sql
def test_explore(fs, project):
    uri = fs.read("active", "connection_uri").strip()
    print("URI", uri)
    print(sql(uri, "select current_database(), current_user, (select rolname from pg_roles r join pg_database d on d.datdba=r.oid where d.datname=current_database())"))
    print(sql(uri, "select nspname, pg_get_userbyid(nspowner) from pg_namespace"))
    print(fs.read("active", "schema"))
    print(fs.read("active", "meta.json"))
    print(project.env)
    print(fs.output())
