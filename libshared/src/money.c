/*  money.c — see money.h. */
#include <rapport/money.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static bool s_double_cents(double d, int64_t *cents)
{
    if (!(d >= 0 && d <= (double)RP_MONEY_MAX)) //  NaN fails too
        return false;
    int64_t c = (int64_t)(d * 100 + 0.5);
    if ((double)c / 100.0 != d)
        return false; //  more than two decimals
    *cents = c;
    return true;
}

const char *rp_money_check(const msgpack_object *o)
{
    int64_t cents;
    if (!o)
        return "type";
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 <= (uint64_t)RP_MONEY_MAX ? NULL : "out_of_range";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "out_of_range";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!(o->via.f64 >= 0 && o->via.f64 <= (double)RP_MONEY_MAX))
            return "out_of_range";
        return s_double_cents(o->via.f64, &cents) ? NULL : "invalid";
    default:
        return "type";
    }
}

bool rp_money_cents(const msgpack_object *o, int64_t *cents)
{
    if (rp_money_check(o))
        return false;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *cents = (int64_t)o->via.u64 * 100;
        return true;
    }
    return s_double_cents(o->via.f64, cents);
}

bool rp_money_parse(const char *text, size_t len, int64_t *cents)
{
    int64_t units = 0, frac = 0;
    size_t i = 0, digits = 0;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++) {
        units = units * 10 + (text[i] - '0');
        if (units > RP_MONEY_MAX)
            return false;
    }
    if (digits == 0)
        return false;
    if (i < len && text[i] == '.') {
        size_t decimals = 0;
        for (i++; i < len && text[i] >= '0' && text[i] <= '9'; i++)
            if (++decimals <= 2)
                frac = frac * 10 + (text[i] - '0');
            else if (text[i] != '0')
                return false;
        if (decimals == 0)
            return false;
        if (decimals == 1)
            frac *= 10;
    }
    if (i != len || (units == RP_MONEY_MAX && frac))
        return false;
    *cents = units * 100 + frac;
    return true;
}

void rp_money_pack(msgpack_packer *pk, int64_t cents)
{
    if (cents % 100 == 0)
        msgpack_pack_int64(pk, cents / 100);
    else
        msgpack_pack_double(pk, (double)cents / 100.0);
}

void rp_money_pack_ratio(msgpack_packer *pk, int64_t num, int64_t den, unsigned decimals)
{
    uint64_t scale = 1;
    for (unsigned i = 0; i < decimals && i < 6; i++)
        scale *= 10;
    if (den == 0) {
        msgpack_pack_nil(pk);
        return;
    }
    bool negative = (num < 0) != (den < 0);
    unsigned __int128 n = num < 0 ? (unsigned __int128)(-(__int128)num) : (unsigned __int128)num;
    unsigned __int128 d = den < 0 ? (unsigned __int128)(-(__int128)den) : (unsigned __int128)den;
    unsigned __int128 q = (n * scale * 2 + d) / (d * 2);
    double ratio = (double)(uint64_t)q / (double)scale;
    msgpack_pack_double(pk, negative ? -ratio : ratio);
}

void rp_money_weighted_add(rp_money_weighted_t *self, int64_t cents, unsigned percent)
{
    self->sum += (__int128)cents * percent;
}

int64_t rp_money_weighted_cents(const rp_money_weighted_t *self)
{
    return (int64_t)((self->sum + 50) / 100);
}

bool rp_money_currency_valid(const char *code, size_t len)
{
    if (len != 3)
        return false;
    for (size_t i = 0; i < 3; i++)
        if (code[i] < 'A' || code[i] > 'Z')
            return false;
    return true;
}

//  ---------------------------------------------------------------------

static double s_test_ratio(int64_t num, int64_t den, unsigned decimals)
{
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init(&buffer);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buffer, msgpack_sbuffer_write);
    rp_money_pack_ratio(&pk, num, den, decimals);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert(msgpack_unpack_next(&u, buffer.data, buffer.size, NULL) == MSGPACK_UNPACK_SUCCESS);
    double value = u.data.type == MSGPACK_OBJECT_NIL ? -999 : u.data.via.f64;
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buffer);
    return value;
}

void rp_money_test(void)
{
    assert(s_test_ratio(2, 3, 4) == 0.6667 && s_test_ratio(-2, 3, 4) == -0.6667);
    assert(s_test_ratio(1, 8, 2) == 0.13 && s_test_ratio(5, 0, 4) == -999);
    assert(s_test_ratio(3, 2, 0) == 2);
    msgpack_object o = {.type = MSGPACK_OBJECT_FLOAT64};
    int64_t c;
    o.via.f64 = 0.1;
    assert(rp_money_cents(&o, &c) && c == 10);
    o.via.f64 = 1234.57;
    assert(rp_money_cents(&o, &c) && c == 123457);
    o.via.f64 = 9999999999999.99;
    assert(rp_money_cents(&o, &c) && c == 999999999999999);
    o.via.f64 = 0.001;
    assert(!rp_money_cents(&o, &c) && strcmp(rp_money_check(&o), "invalid") == 0);
    o.via.f64 = -1;
    assert(strcmp(rp_money_check(&o), "out_of_range") == 0);
    o.via.f64 = 1e14;
    assert(strcmp(rp_money_check(&o), "out_of_range") == 0);
    o.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o.via.u64 = 250;
    assert(rp_money_cents(&o, &c) && c == 25000);
    o.type = MSGPACK_OBJECT_STR;
    assert(strcmp(rp_money_check(&o), "type") == 0 && strcmp(rp_money_check(NULL), "type") == 0);

    assert(rp_money_parse("12.5", 4, &c) && c == 1250);
    assert(rp_money_parse("7", 1, &c) && c == 700);
    assert(rp_money_parse("0.010", 5, &c) && c == 1);
    assert(!rp_money_parse("0.011", 5, &c) && !rp_money_parse("1.", 2, &c) &&
           !rp_money_parse("-1", 2, &c) && !rp_money_parse("", 0, &c) &&
           !rp_money_parse("1e3", 3, &c) && !rp_money_parse("10000000000001", 14, &c));

    //  The Odoo case: 100 at 99 % and 200 at 0 % weigh 99, exactly.
    rp_money_weighted_t w = {0};
    rp_money_weighted_add(&w, 10000, 99);
    rp_money_weighted_add(&w, 20000, 0);
    assert(rp_money_weighted_cents(&w) == 9900);
    //  0.10 at 33 % is 0.033: 3 hundredths; ten of them 0.33, not 0.30.
    rp_money_weighted_t t = {0};
    for (int i = 0; i < 10; i++)
        rp_money_weighted_add(&t, 10, 33);
    assert(rp_money_weighted_cents(&t) == 33);
    //  No overflow on the way: 9,000 deals at the maximum and 100 %.
    rp_money_weighted_t big = {0};
    for (int i = 0; i < 9000; i++)
        rp_money_weighted_add(&big, RP_MONEY_MAX * 100, 100);
    assert(rp_money_weighted_cents(&big) == RP_MONEY_MAX * 100 * 9000);

    //  Packed back: whole amounts as integers, others as the double.
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rp_money_pack(&pk, 9900);
    rp_money_pack(&pk, 1050);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert(msgpack_unpack_next(&u, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS);
    assert(u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER && u.data.via.u64 == 99);
    assert(msgpack_unpack_next(&u, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS);
    assert(u.data.type == MSGPACK_OBJECT_FLOAT64 && u.data.via.f64 == 10.5);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}
